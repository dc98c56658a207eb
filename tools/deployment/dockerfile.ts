import { DockerfileParser, type ImageTemplate } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';

import { repositoryFile } from './repository.js';

export interface Stage {
  name: string | null;
  args: string[];
  env: Map<string, string>;
  user?: string;
  entrypoint?: string[];
  command?: string[];
  /** Sources of COPY instructions that read the build context (not another stage). */
  contextSources: string[];
}

export interface DockerfileFacts {
  /** Problems the Dockerfile language service finds (syntax, flags, instructions). */
  problems: string[];
  /** ARGs declared before the first FROM. */
  globalArgs: string[];
  stages: Stage[];
}

function jsonForm(image: ImageTemplate, keyword: 'CMD' | 'ENTRYPOINT'): string[] | undefined {
  const instruction = (keyword === 'CMD' ? image.getCMDs() : image.getENTRYPOINTs()).at(-1);

  return instruction?.getJSONStrings().map((argument) => argument.getJSONValue());
}

/** What the Dockerfile language service refuses: syntax, unknown instructions and flags. */
export function dockerfileProblems(text: string): string[] {
  return validate(text).map(
    (diagnostic) => `line ${diagnostic.range.start.line + 1}: ${diagnostic.message}`,
  );
}

/** The Dockerfile at the repository root, parsed by the Dockerfile language service's parser. */
export function readDockerfile(path = 'Dockerfile'): DockerfileFacts {
  const text = repositoryFile(path);
  const dockerfile = DockerfileParser.parse(text);
  const problems = dockerfileProblems(text);
  const stages = dockerfile.getFROMs().map((from): Stage => {
    const image = dockerfile.getContainingImage(from.getRange().start);
    if (!image) {
      throw new Error(`${path}: no build stage at line ${from.getRange().start.line + 1}`);
    }
    const env = new Map<string, string>();
    for (const instruction of image.getENVs()) {
      for (const property of instruction.getProperties()) {
        env.set(property.getName(), property.getUnescapedValue() ?? '');
      }
    }
    const user = image
      .getInstructions()
      .filter((instruction) => instruction.getKeyword() === 'USER')
      .at(-1)
      ?.getArgumentsContent();

    return {
      name: from.getBuildStage(),
      args: image.getARGs().flatMap((arg) => arg.getProperty()?.getName() ?? []),
      env,
      user: user ?? undefined,
      entrypoint: jsonForm(image, 'ENTRYPOINT'),
      command: jsonForm(image, 'CMD'),
      contextSources: image
        .getCOPYs()
        .filter((copy) => copy.getFromFlag() === null)
        .flatMap((copy) =>
          copy
            .getArguments()
            .slice(0, -1)
            .map((argument) => argument.getValue()),
        ),
    };
  });

  return {
    problems,
    globalArgs: dockerfile.getInitialARGs().flatMap((arg) => arg.getProperty()?.getName() ?? []),
    stages,
  };
}

/**
 * Whether `.dockerignore` keeps a path out of the build context: its patterns in order, the last
 * one that matches deciding, `!` re-including, `*` within one path segment and `**` across them.
 * A directory's exclusion covers everything below it.
 */
export function ignoredByDockerignore(path: string, dockerignore: string): boolean {
  const rules = dockerignore
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const include = line.startsWith('!');
      const pattern = (include ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split('/')
        .map((segment) =>
          segment === '**'
            ? '.*'
            : segment
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?');

      return { include, matcher: new RegExp(`^${source}(?:/.*)?$`) };
    });
  let ignored = false;
  for (const rule of rules) {
    if (rule.matcher.test(path)) {
      ignored = !rule.include;
    }
  }

  return ignored;
}
