import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

import { parseAllDocuments } from 'yaml';

/**
 * The part of `kustomize build` that k8s/ uses, for the tests: there is no kustomize binary here,
 * and the npm packages that ship one download it at install time. Supported: resources (files and
 * kustomization directories), namespace, images, and strategic merge patches (from a file or
 * inline, one document each, applied by kind and name or to a target selected by kind, name and
 * label). Anything else in a kustomization fails the render instead of being silently ignored.
 */
export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
} & Record<string, unknown>;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  namespace?: string;
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  patches?: { path?: string; patch?: string; target?: PatchTarget }[];
}

interface PatchTarget {
  kind?: string;
  name?: string;
  labelSelector?: string;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'patches']);
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'IngressClass']);

/**
 * Kubernetes reads manifests as YAML 1.1 (sigs.k8s.io/yaml), where 0440 is an octal file mode;
 * YAML 1.2 would read it as the decimal 440.
 */
export function parseManifests(text: string, source: string): Json[] {
  return parseAllDocuments(text, { version: '1.1' }).flatMap((document) => {
    if (document.errors.length > 0) {
      throw new Error(`${source}: ${document.errors.map((error) => error.message).join('; ')}`);
    }
    const value = document.toJS() as Json;

    return value === null ? [] : [value];
  });
}

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asManifest(value: Json, source: string): Manifest {
  if (!isObject(value) || typeof value.kind !== 'string' || typeof value.apiVersion !== 'string') {
    throw new Error(`${source}: a document without apiVersion and kind`);
  }
  if (!isObject(value.metadata) || typeof value.metadata.name !== 'string') {
    throw new Error(`${source}: a ${value.kind} without metadata.name`);
  }

  return value as unknown as Manifest;
}

export function identity(manifest: Pick<Manifest, 'kind' | 'metadata'>): string {
  return `${manifest.kind}/${manifest.metadata.name}`;
}

// The lists Kubernetes merges item by item in a strategic merge patch, and the key it merges by.
const MERGE_KEYS: Record<string, (item: Record<string, Json>) => Json | undefined> = {
  containers: (item) => item.name,
  initContainers: (item) => item.name,
  volumes: (item) => item.name,
  env: (item) => item.name,
  volumeMounts: (item) => item.mountPath,
  // Container ports merge by containerPort, Service ports by port.
  ports: (item) => item.containerPort ?? item.port,
  imagePullSecrets: (item) => item.name,
};

/** Kubernetes' strategic merge: maps merge, keyed lists merge by key, other lists are replaced. */
export function strategicMerge(target: Json, patch: Json, field = ''): Json {
  if (isObject(target) && isObject(patch)) {
    const merged: Record<string, Json> = { ...target };
    for (const [key, value] of Object.entries(patch)) {
      if (key.startsWith('$')) {
        throw new Error(`patch directive ${key} is not supported by this renderer`);
      }
      if (value === null) {
        delete merged[key];
      } else {
        merged[key] = key in merged ? strategicMerge(merged[key], value, key) : value;
      }
    }

    return merged;
  }
  const keyOf = MERGE_KEYS[field];
  if (Array.isArray(target) && Array.isArray(patch) && keyOf) {
    const merged = [...target];
    for (const item of patch) {
      const key = isObject(item) ? keyOf(item) : undefined;
      const index = merged.findIndex(
        (existing) => isObject(existing) && key !== undefined && keyOf(existing) === key,
      );
      if (index >= 0) {
        merged[index] = strategicMerge(merged[index], item, '');
      } else {
        merged.push(item);
      }
    }

    return merged;
  }

  return patch;
}

function matchesSelector(manifest: Manifest, selector: string): boolean {
  return selector.split(',').every((requirement) => {
    const match = /^\s*([^=!\s]+)\s*=\s*([^=\s]*)\s*$/.exec(requirement);
    if (!match) {
      throw new Error(`label selector ${selector}: only key=value requirements are supported`);
    }

    return manifest.metadata.labels?.[match[1]] === match[2];
  });
}

function applyPatch(
  manifests: Manifest[],
  text: string,
  target: PatchTarget | undefined,
  source: string,
): Manifest[] {
  const documents = parseManifests(text, source);
  // kustomize reads a patch as exactly one resource.
  if (documents.length !== 1) {
    throw new Error(`${source}: a patch must hold exactly one document, found ${documents.length}`);
  }
  const patch = asManifest(documents[0], source);
  const selected = (manifest: Manifest): boolean =>
    target
      ? (target.kind === undefined || manifest.kind === target.kind) &&
        (target.name === undefined || manifest.metadata.name === target.name) &&
        (target.labelSelector === undefined || matchesSelector(manifest, target.labelSelector))
      : identity(manifest) === identity(patch) && manifest.apiVersion === patch.apiVersion;
  if (!manifests.some(selected)) {
    throw new Error(`${source}: the patch matches no resource`);
  }
  // Under a target the patch's own kind and name do not count; kustomize keeps the target's.
  const { apiVersion: _apiVersion, kind: _kind, metadata, ...body } = patch;
  const { name: _name, ...metadataPatch } = metadata;
  const change = { ...body, metadata: metadataPatch } as unknown as Json;

  return manifests.map((manifest) =>
    selected(manifest)
      ? (strategicMerge(manifest as unknown as Json, change) as unknown as Manifest)
      : manifest,
  );
}

function setImages(manifest: Manifest, images: NonNullable<Kustomization['images']>): Manifest {
  const podSpec = (manifest.spec as { template?: { spec?: Record<string, Json> } } | undefined)
    ?.template?.spec;
  if (!podSpec) {
    return manifest;
  }
  const copy = structuredClone(manifest);
  const spec = (copy.spec as { template: { spec: Record<string, Json> } }).template.spec;
  for (const field of ['containers', 'initContainers']) {
    for (const container of (spec[field] ?? []) as Record<string, Json>[]) {
      const image = String(container.image ?? '');
      const name = image.replace(/@.*$/, '').replace(/:[^/:]*$/, '');
      const rule = images.find((entry) => entry.name === name);
      if (rule) {
        const tag = rule.digest
          ? `@${rule.digest}`
          : rule.newTag
            ? `:${rule.newTag}`
            : image.slice(name.length);
        container.image = `${rule.newName ?? name}${tag}`;
      }
    }
  }

  return copy;
}

/** Renders the kustomization in a directory, as `kustomize build <dir>` would for these features. */
export function build(dir: string): Manifest[] {
  const file = resolve(dir, 'kustomization.yaml');
  const [document] = parseManifests(readFileSync(file, 'utf8'), file);
  if (!isObject(document)) {
    throw new Error(`${file}: not a mapping`);
  }
  const unsupported = Object.keys(document).filter((key) => !SUPPORTED.has(key));
  if (unsupported.length > 0) {
    throw new Error(`${file}: ${unsupported.join(', ')} not supported by this renderer`);
  }
  const kustomization = document as unknown as Kustomization;
  let manifests: Manifest[] = [];
  for (const entry of kustomization.resources ?? []) {
    const path = resolve(dir, entry);
    if (!existsSync(path)) {
      throw new Error(`${file}: resource ${entry} does not exist`);
    }
    manifests.push(
      ...(statSync(path).isDirectory()
        ? build(path)
        : parseManifests(readFileSync(path, 'utf8'), path).map((value) => asManifest(value, path))),
    );
  }
  const seen = new Set<string>();
  for (const manifest of manifests) {
    if (seen.has(identity(manifest))) {
      throw new Error(`${file}: ${identity(manifest)} is defined twice`);
    }
    seen.add(identity(manifest));
  }
  for (const [index, entry] of (kustomization.patches ?? []).entries()) {
    const source = entry.path ? resolve(dir, entry.path) : `${file} patches[${index}]`;
    const text = entry.path ? readFileSync(source, 'utf8') : entry.patch;
    if (text === undefined) {
      throw new Error(`${source}: a patch needs path or patch`);
    }
    manifests = applyPatch(manifests, text, entry.target, source);
  }
  const namespace = kustomization.namespace;
  if (namespace) {
    manifests = manifests.map((manifest) =>
      CLUSTER_SCOPED.has(manifest.kind)
        ? manifest
        : { ...manifest, metadata: { ...manifest.metadata, namespace } },
    );
  }
  if (kustomization.images) {
    const images = kustomization.images;
    manifests = manifests.map((manifest) => setImages(manifest, images));
  }

  return manifests;
}
