import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { readDockerfile, type Stage } from './dockerfile.js';
import { documentedSecrets, makeDocumentedKeys } from './documented-keys.js';
import { build, type Manifest, strategicMerge } from './kustomize.js';
import { referenceChecks, type References, serviceProblems } from './kubernetes-references.js';
import { kubernetesProblems, schemaProblems, unknownFieldProblems } from './kubernetes-schema.js';
import { REPOSITORY } from './repository.js';

const runtime = readDockerfile().stages.find((stage) => stage.name === 'runtime') as Stage;
const base = build(resolve(REPOSITORY, 'k8s/base'));
const overlay = build(resolve(REPOSITORY, 'k8s/overlays/example'));

function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find(
    (manifest) => manifest.kind === kind && manifest.metadata.name === name,
  );
  if (!found) {
    throw new Error(`no ${kind}/${name}`);
  }

  return found;
}

function deployment(name: string, patch: Record<string, unknown> = {}): Manifest {
  return strategicMerge(
    structuredClone(find(base, 'Deployment', name)) as never,
    patch as never,
  ) as unknown as Manifest;
}

describe('Kubernetes manifests (k8s/)', () => {
  let keysDirectory = '';
  let references: References;

  beforeAll(() => {
    keysDirectory = makeDocumentedKeys();
    references = { image: runtime, secrets: documentedSecrets(keysDirectory) };
  });

  afterAll(() => rmSync(keysDirectory, { recursive: true, force: true }));

  describe.each([
    ['the base', base],
    ['the example overlay', overlay],
  ])('%s', (_name, manifests) => {
    it('is valid against the Kubernetes schemas, with no field Kubernetes does not know', () => {
      expect(kubernetesProblems(manifests)).toEqual([]);
    });

    it('runs every process, each with its Deployment, Service and disruption budget', () => {
      const components = (kind: string): string[] =>
        manifests
          .filter((manifest) => manifest.kind === kind)
          .map((manifest) => manifest.metadata.labels?.['app.kubernetes.io/component'] ?? '')
          .sort();
      const processes = ['checkin', 'commands', 'escrow', 'provisioning', 'relay'];

      expect(components('Deployment')).toEqual(processes);
      expect(components('Service')).toEqual(processes);
      expect(components('PodDisruptionBudget')).toEqual(processes);
      expect(components('HorizontalPodAutoscaler')).toEqual([
        'checkin',
        'commands',
        'provisioning',
      ]);
    });

    it('refers only to what exists: pods, ports, paths, processes, variables, ConfigMaps, documented Secrets', () => {
      const problems = referenceChecks(manifests, references);

      expect(problems).toEqual(
        Object.fromEntries(Object.keys(problems).map((check) => [check, []])),
      );
    });
  });

  describe('the example overlay', () => {
    it('runs one released image everywhere, the migration included', () => {
      const images = overlay
        .filter((manifest) => manifest.kind === 'Deployment')
        .flatMap((manifest) => {
          const pod = (
            manifest.spec as {
              template: {
                spec: { containers: { image: string }[]; initContainers?: { image: string }[] };
              };
            }
          ).template.spec;

          return [...pod.containers, ...(pod.initContainers ?? [])].map(
            (container) => container.image,
          );
        });

      expect(new Set(images)).toEqual(new Set(['registry.example/turnaround:0.1.0']));
    });

    it('puts every namespaced resource into a namespace that enforces the restricted pod security standard', () => {
      const namespace = find(overlay, 'Namespace', 'turnaround');
      const namespaced = overlay.filter((manifest) => manifest.kind !== 'Namespace');

      expect(namespace.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
      expect(namespaced.filter((manifest) => manifest.metadata.namespace !== 'turnaround')).toEqual(
        [],
      );
    });

    it('keeps the base settings and adds the public URL devices are given', () => {
      const data = (
        find(overlay, 'ConfigMap', 'turnaround') as unknown as { data: Record<string, string> }
      ).data;

      expect(data).toMatchObject({
        PORT: '8080',
        HOST: '0.0.0.0',
        TURNAROUND_PUBLIC_URL: 'https://mdm.example.com',
      });
    });

    it('documents a broker URL over TLS', () => {
      expect(references.secrets.get('turnaround-amqp')?.literals.get('url')).toMatch(/^amqps:\/\//);
    });
  });

  describe('its checks', () => {
    it('refuse a manifest the schemas forbid', () => {
      const countedInWords = deployment('turnaround-escrow', { spec: { replicas: 'two' } });
      const probeWithoutPort = deployment('turnaround-escrow', {
        spec: {
          template: {
            spec: {
              containers: [{ name: 'turnaround', livenessProbe: { httpGet: { port: null } } }],
            },
          },
        },
      });

      expect(schemaProblems([countedInWords])).toEqual([
        'Deployment/turnaround-escrow: data/spec/replicas must be integer',
      ]);
      expect(schemaProblems([probeWithoutPort]).join('\n')).toMatch(
        /livenessProbe\/httpGet must have required property port/,
      );
    });

    it('refuse a field Kubernetes does not know, which the schema validator alone lets through', () => {
      const misspelt = deployment('turnaround-escrow', {
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: 'turnaround',
                  readinesProbe: { httpGet: { path: '/readyz', port: 'http' } },
                },
              ],
            },
          },
        },
      });

      expect(schemaProblems([misspelt])).toEqual([]);
      expect(unknownFieldProblems([misspelt]).join('\n')).toMatch(
        /readinesProbe\W+ does not exist in type 'IContainer'/,
      );
    });

    it('refuse a Service whose selector finds no pods', () => {
      const service = structuredClone(find(base, 'Service', 'turnaround-relay'));
      (service.spec as { selector: Record<string, string> }).selector[
        'app.kubernetes.io/component'
      ] = 'realy';

      expect(
        serviceProblems([
          ...base.filter((manifest) => manifest !== find(base, 'Service', 'turnaround-relay')),
          service,
        ]),
      ).toEqual(['Service/turnaround-relay selects the pods of 0 Deployments, not 1']);
    });

    it('refuse a Secret key the guide does not create and a variable no process reads', () => {
      const escrow = deployment('turnaround-escrow', {
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: 'turnaround',
                  env: [
                    {
                      name: 'TURNAROUND_ESCROW_KEYS',
                      value: '/etc/turnaround/escrow/escrow-keys.json',
                    },
                    {
                      name: 'AMQP_URL',
                      valueFrom: { secretKeyRef: { name: 'turnaround-amqp', key: 'uri' } },
                    },
                  ],
                },
              ],
            },
          },
        },
      });
      const problems = referenceChecks(
        [...base.filter((manifest) => manifest.metadata.name !== 'turnaround-escrow'), escrow],
        references,
      );

      expect(problems.references).toEqual([
        'Deployment/turnaround-escrow: Secret turnaround-amqp has no key uri (the guide creates url)',
      ]);
      expect(problems.processes).toContain(
        'Deployment/turnaround-escrow turnaround: sets TURNAROUND_ESCROW_KEYS, which escrow never reads',
      );
    });
  });
});

describe('the Kustomize renderer used by these checks', () => {
  it('merges containers, env and volume mounts by their keys and replaces other lists, as a strategic merge patch does', () => {
    const merged = strategicMerge(
      {
        containers: [
          { name: 'a', args: ['x', 'y'], env: [{ name: 'A', value: '1' }] },
          { name: 'b' },
        ],
      },
      {
        containers: [
          {
            name: 'a',
            args: ['z'],
            env: [
              { name: 'B', value: '2' },
              { name: 'A', value: '3' },
            ],
          },
        ],
      },
    );

    expect(merged).toEqual({
      containers: [
        {
          name: 'a',
          args: ['z'],
          env: [
            { name: 'A', value: '3' },
            { name: 'B', value: '2' },
          ],
        },
        { name: 'b' },
      ],
    });
  });

  it('applies the shared pod settings to every Deployment of the base', () => {
    const pods = base
      .filter((manifest) => manifest.kind === 'Deployment')
      .map(
        (manifest) =>
          (manifest.spec as { template: { spec: { initContainers?: { name: string }[] } } })
            .template.spec,
      );

    expect(pods.map((pod) => pod.initContainers?.map((container) => container.name))).toEqual(
      pods.map(() => ['migrate']),
    );
  });

  it('fails on a kustomization feature it does not implement instead of ignoring it', () => {
    const directory = mkdtempSync(join(tmpdir(), 'turnaround-kustomization-'));
    try {
      writeFileSync(
        join(directory, 'kustomization.yaml'),
        'resources: []\ncommonLabels:\n  team: devices\n',
      );

      expect(() => build(directory)).toThrow(/commonLabels not supported by this renderer/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
