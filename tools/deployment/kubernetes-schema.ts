import { resolve } from 'node:path';

import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import ts from 'typescript';

import { identity, type Manifest } from './kustomize.js';
import { REPOSITORY } from './repository.js';

interface Kind {
  model: new (data: never) => { validate(): void };
  /** Where kubernetes-models declares the resource's type, and the type's name. */
  module: string;
  type: string;
}

// The kinds k8s/ uses. A new kind joins here, or its manifests fail the check as unknown.
const KINDS: Record<string, Kind> = {
  'apps/v1 Deployment': { model: Deployment, module: 'apps/v1/Deployment', type: 'IDeployment' },
  'autoscaling/v2 HorizontalPodAutoscaler': {
    model: HorizontalPodAutoscaler,
    module: 'autoscaling/v2/HorizontalPodAutoscaler',
    type: 'IHorizontalPodAutoscaler',
  },
  'batch/v1 Job': { model: Job, module: 'batch/v1/Job', type: 'IJob' },
  'networking.k8s.io/v1 Ingress': {
    model: Ingress,
    module: 'networking.k8s.io/v1/Ingress',
    type: 'IIngress',
  },
  'networking.k8s.io/v1 NetworkPolicy': {
    model: NetworkPolicy,
    module: 'networking.k8s.io/v1/NetworkPolicy',
    type: 'INetworkPolicy',
  },
  'policy/v1 PodDisruptionBudget': {
    model: PodDisruptionBudget,
    module: 'policy/v1/PodDisruptionBudget',
    type: 'IPodDisruptionBudget',
  },
  'v1 ConfigMap': { model: ConfigMap, module: 'v1/ConfigMap', type: 'IConfigMap' },
  'v1 Namespace': { model: Namespace, module: 'v1/Namespace', type: 'INamespace' },
  'v1 Service': { model: Service, module: 'v1/Service', type: 'IService' },
};

function kindOf(manifest: Manifest): Kind | undefined {
  return KINDS[`${manifest.apiVersion} ${manifest.kind}`];
}

/**
 * The problems of each manifest against the Kubernetes OpenAPI schemas, as kubernetes-models
 * compiled them: missing required fields, wrong types, values outside an enum or a pattern.
 */
export function schemaProblems(manifests: Manifest[]): string[] {
  return manifests.flatMap((manifest) => {
    const kind = kindOf(manifest);
    if (!kind) {
      return [`${identity(manifest)}: no schema for ${manifest.apiVersion} ${manifest.kind}`];
    }
    try {
      const { apiVersion: _apiVersion, kind: _kind, ...data } = manifest;
      new kind.model(data as never).validate();

      return [];
    } catch (error) {
      return [`${identity(manifest)}: ${(error as Error).message}`];
    }
  });
}

/**
 * The fields no Kubernetes type has, which the schema validator lets through (its schemas allow
 * additional properties) and `kubectl apply` refuses: each manifest is type-checked as an object
 * literal of its kind's TypeScript type, whose excess-property check names every unknown field,
 * at any depth.
 */
export function unknownFieldProblems(manifests: Manifest[]): string[] {
  // Beside the repository's node_modules, so that the package's exports resolve as in the code.
  const directory = resolve(REPOSITORY, 'tools/deployment/.manifests');
  const sources = new Map<string, { text: string; manifest: Manifest }>();
  const problems: string[] = [];
  manifests.forEach((manifest, index) => {
    const kind = kindOf(manifest);
    if (!kind) {
      problems.push(`${identity(manifest)}: no type for ${manifest.apiVersion} ${manifest.kind}`);

      return;
    }
    const text =
      `import type { ${kind.type} } from 'kubernetes-models/${kind.module}';\n` +
      `export const manifest: ${kind.type} = ${JSON.stringify(manifest, null, 2)};\n`;
    sources.set(resolve(directory, `manifest-${index}.ts`), { text, manifest });
  });
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, ...rest) => {
    const virtual = sources.get(resolve(fileName));

    return virtual
      ? ts.createSourceFile(fileName, virtual.text, languageVersion, true)
      : getSourceFile(fileName, languageVersion, ...rest);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (fileName) => sources.has(resolve(fileName)) || fileExists(fileName);
  const readFile = host.readFile.bind(host);
  host.readFile = (fileName) => sources.get(resolve(fileName))?.text ?? readFile(fileName);
  host.directoryExists = (name) => resolve(name) === directory || ts.sys.directoryExists(name);
  const program = ts.createProgram([...sources.keys()], options, host);
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const virtual = diagnostic.file && sources.get(resolve(diagnostic.file.fileName));
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ');
    if (!virtual) {
      problems.push(`type check: ${message}`);
      continue;
    }
    const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    const context = virtual.text.split('\n')[line]?.trim();
    problems.push(`${identity(virtual.manifest)}: ${message} (at ${context})`);
  }

  return problems;
}

/** Both checks: what `kubectl apply --validate=strict` would refuse before any admission control. */
export function kubernetesProblems(manifests: Manifest[]): string[] {
  return [...schemaProblems(manifests), ...unknownFieldProblems(manifests)];
}
