import { posix } from 'node:path';

import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IService } from 'kubernetes-models/v1/Service';

import type { Stage } from './dockerfile.js';
import type { DocumentedSecret } from './documented-keys.js';
import type { Manifest } from './kustomize.js';
import {
  entryPointBuilt,
  launcherRoutes,
  pathServed,
  processOf,
  variablesReadBy,
} from './repository.js';

/** What the manifests are checked against besides themselves. */
export interface References {
  /** The image's final stage: its user, entry point and environment. */
  image: Stage;
  /** The Secrets the deployment guide tells operators to create. */
  secrets: Map<string, DocumentedSecret>;
}

type Labels = Record<string, string>;
type LabelSelector = NonNullable<NonNullable<IPodDisruptionBudget['spec']>['selector']>;

function ofKind<T>(manifests: Manifest[], kind: string): T[] {
  return manifests.filter((manifest) => manifest.kind === kind) as unknown as T[];
}

function nameOf(resource: { metadata?: { name?: string } }): string {
  return resource.metadata?.name ?? '(unnamed)';
}

function podLabels(deployment: IDeployment): Labels {
  return (deployment.spec?.template.metadata?.labels ?? {}) as Labels;
}

function containersOf(deployment: IDeployment): IContainer[] {
  const pod = deployment.spec?.template.spec;

  return [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])];
}

function matchesLabels(selector: Labels | undefined, labels: Labels): boolean {
  return (
    selector !== undefined &&
    Object.entries(selector).every(([key, value]) => labels[key] === value)
  );
}

function matchesSelector(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) {
    return false;
  }

  return (
    Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value) &&
    (selector.matchExpressions ?? []).every((expression) => {
      const value = labels[expression.key];
      switch (expression.operator) {
        case 'In':
          return value !== undefined && (expression.values ?? []).includes(value);
        case 'NotIn':
          return value === undefined || !(expression.values ?? []).includes(value);
        case 'Exists':
          return value !== undefined;
        case 'DoesNotExist':
          return value === undefined;
        default:
          throw new Error(`unknown label selector operator ${expression.operator}`);
      }
    })
  );
}

function selectedDeployments(
  manifests: Manifest[],
  matches: (labels: Labels) => boolean,
): IDeployment[] {
  return ofKind<IDeployment>(manifests, 'Deployment').filter((deployment) =>
    matches(podLabels(deployment)),
  );
}

function configMapData(manifests: Manifest[], name: string): Record<string, string> | undefined {
  return ofKind<IConfigMap>(manifests, 'ConfigMap').find((map) => nameOf(map) === name)?.data;
}

/**
 * A container's environment as the process sees it: the image's ENV, then the ConfigMaps of
 * envFrom, then env. A value taken from a Secret is shown as `secret:<name>/<key>`.
 */
export function environmentOf(
  container: IContainer,
  manifests: Manifest[],
  image: Stage,
): Map<string, string> {
  const environment = new Map(image.env);
  for (const source of container.envFrom ?? []) {
    for (const [key, value] of Object.entries(
      configMapData(manifests, source.configMapRef?.name ?? '') ?? {},
    )) {
      environment.set(key, value);
    }
  }
  for (const variable of container.env ?? []) {
    const secret = variable.valueFrom?.secretKeyRef;
    environment.set(
      variable.name,
      secret ? `secret:${secret.name}/${secret.key}` : (variable.value ?? ''),
    );
  }

  return environment;
}

function containerPort(
  container: IContainer,
  port: number | string | undefined,
): number | undefined {
  return typeof port === 'number'
    ? container.ports?.find((candidate) => candidate.containerPort === port)?.containerPort
    : container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}

function mainContainers(deployment: IDeployment): IContainer[] {
  return deployment.spec?.template.spec?.containers ?? [];
}

/** Every Service selects the pods of exactly one Deployment, on a port their containers expose. */
export function serviceProblems(manifests: Manifest[]): string[] {
  return ofKind<IService>(manifests, 'Service').flatMap((service) => {
    const selector = service.spec?.selector as Labels | undefined;
    const targets = selectedDeployments(manifests, (labels) => matchesLabels(selector, labels));
    if (targets.length !== 1) {
      return [
        `Service/${nameOf(service)} selects the pods of ${targets.length} Deployments, not 1`,
      ];
    }

    return (service.spec?.ports ?? [])
      .filter(
        (port) =>
          !mainContainers(targets[0]).some((container) =>
            containerPort(container, port.targetPort ?? port.port),
          ),
      )
      .map(
        (port) =>
          `Service/${nameOf(service)}: no container of ${nameOf(targets[0])} exposes port ${port.targetPort}`,
      );
  });
}

/** Probes ask for paths the processes serve, on a port the process listens on (its PORT). */
export function probeProblems(manifests: Manifest[], references: References): string[] {
  return ofKind<IDeployment>(manifests, 'Deployment').flatMap((deployment) =>
    mainContainers(deployment).flatMap((container) => {
      const where = `Deployment/${nameOf(deployment)} ${container.name}`;
      const problems: string[] = [];
      const listening = Number(environmentOf(container, manifests, references.image).get('PORT'));
      for (const [kind, probe] of Object.entries({
        startupProbe: container.startupProbe,
        livenessProbe: container.livenessProbe,
        readinessProbe: container.readinessProbe,
      })) {
        if (kind !== 'startupProbe' && !probe?.httpGet) {
          problems.push(`${where}: no HTTP ${kind}`);
          continue;
        }
        if (!probe?.httpGet) {
          continue;
        }
        const { path = '/', port } = probe.httpGet;
        if (!pathServed(path)) {
          problems.push(`${where}: ${kind} asks for ${path}, which no process serves`);
        }
        if (containerPort(container, port) !== listening) {
          problems.push(
            `${where}: ${kind} port ${port} is not the port the process listens on (PORT=${listening})`,
          );
        }
      }
      if (container.livenessProbe?.httpGet?.path === '/readyz') {
        problems.push(
          `${where}: liveness on /readyz would restart pods whenever the database is slow`,
        );
      }

      return problems;
    }),
  );
}

/** Autoscalers and disruption budgets point at Deployments that exist and can honour them. */
export function scalingProblems(manifests: Manifest[]): string[] {
  const deployments = ofKind<IDeployment>(manifests, 'Deployment');
  const autoscalers = ofKind<IHorizontalPodAutoscaler>(manifests, 'HorizontalPodAutoscaler');
  const problems: string[] = [];
  for (const autoscaler of autoscalers) {
    const target = autoscaler.spec?.scaleTargetRef;
    const deployment = deployments.find(
      (candidate) => target?.kind === 'Deployment' && nameOf(candidate) === target.name,
    );
    if (!deployment) {
      problems.push(
        `HorizontalPodAutoscaler/${nameOf(autoscaler)} scales ${target?.kind}/${target?.name}, which is not here`,
      );
    } else if (deployment.spec?.replicas !== undefined) {
      // Every apply would reset the replica count the autoscaler chose.
      problems.push(
        `Deployment/${nameOf(deployment)} sets replicas although an autoscaler scales it`,
      );
    }
  }
  for (const budget of ofKind<IPodDisruptionBudget>(manifests, 'PodDisruptionBudget')) {
    const targets = selectedDeployments(manifests, (labels) =>
      matchesSelector(budget.spec?.selector, labels),
    );
    if (targets.length !== 1) {
      problems.push(
        `PodDisruptionBudget/${nameOf(budget)} covers the pods of ${targets.length} Deployments, not 1`,
      );
      continue;
    }
    const autoscaler = autoscalers.find(
      (candidate) => candidate.spec?.scaleTargetRef.name === nameOf(targets[0]),
    );
    const fewest = autoscaler?.spec?.minReplicas ?? targets[0].spec?.replicas ?? 1;
    const minAvailable = budget.spec?.minAvailable;
    // A budget that keeps every pod would block every node drain.
    if (typeof minAvailable === 'number' && minAvailable >= fewest) {
      problems.push(
        `PodDisruptionBudget/${nameOf(budget)} keeps ${minAvailable} of as few as ${fewest} pods: drains would block`,
      );
    }
  }

  return problems;
}

/** Every ConfigMap referenced is defined here; every Secret, and each key, is one the guide creates. */
export function referenceProblems(manifests: Manifest[], references: References): string[] {
  const problems: string[] = [];
  const secretKey = (where: string, name: string, key?: string): void => {
    const secret = references.secrets.get(name);
    if (!secret) {
      problems.push(`${where}: Secret ${name} is not created by the deployment guide`);
    } else if (key !== undefined && !secret.keys.has(key)) {
      problems.push(
        `${where}: Secret ${name} has no key ${key} (the guide creates ${[...secret.keys].join(', ')})`,
      );
    }
  };
  const configMap = (where: string, name: string, key?: string): void => {
    const data = configMapData(manifests, name);
    if (!data) {
      problems.push(`${where}: ConfigMap ${name} is not defined`);
    } else if (key !== undefined && !(key in data)) {
      problems.push(`${where}: ConfigMap ${name} has no key ${key}`);
    }
  };
  for (const deployment of ofKind<IDeployment>(manifests, 'Deployment')) {
    const where = `Deployment/${nameOf(deployment)}`;
    for (const container of containersOf(deployment)) {
      for (const source of container.envFrom ?? []) {
        if (source.configMapRef) {
          configMap(where, source.configMapRef.name ?? '');
        }
        if (source.secretRef) {
          secretKey(where, source.secretRef.name ?? '');
        }
      }
      for (const variable of container.env ?? []) {
        const from = variable.valueFrom;
        if (from?.secretKeyRef) {
          secretKey(where, from.secretKeyRef.name ?? '', from.secretKeyRef.key);
        }
        if (from?.configMapKeyRef) {
          configMap(where, from.configMapKeyRef.name ?? '', from.configMapKeyRef.key);
        }
      }
    }
    for (const volume of deployment.spec?.template.spec?.volumes ?? []) {
      if (volume.secret) {
        secretKey(where, volume.secret.secretName ?? '');
        for (const item of volume.secret.items ?? []) {
          secretKey(where, volume.secret.secretName ?? '', item.key);
        }
      }
      if (volume.configMap) {
        configMap(where, volume.configMap.name ?? '');
      }
    }
  }
  for (const ingress of ofKind<IIngress>(manifests, 'Ingress')) {
    for (const tls of ingress.spec?.tls ?? []) {
      secretKey(`Ingress/${nameOf(ingress)}`, tls.secretName ?? '', 'tls.crt');
    }
  }

  return problems;
}

/**
 * Each container starts a process the build produces, through the image's node entry point, and
 * sets only variables that process reads.
 */
export function processProblems(manifests: Manifest[], references: References): string[] {
  return ofKind<IDeployment>(manifests, 'Deployment').flatMap((deployment) =>
    containersOf(deployment).flatMap((container) => {
      const where = `Deployment/${nameOf(deployment)} ${container.name}`;
      const script = container.args?.[0] ?? references.image.command?.[0] ?? '';
      const process = processOf(script);
      if (container.command !== undefined || references.image.entrypoint?.[0] !== 'node') {
        return [`${where}: the process must start through the image's node entry point`];
      }
      if (!process || !entryPointBuilt(script)) {
        return [
          `${where}: ${script} is not an entry point the build produces (apps/<name>/src/main.ts)`,
        ];
      }
      const read = variablesReadBy(process);
      const configured = [
        ...(container.env ?? []).map((variable) => variable.name),
        ...(container.envFrom ?? []).flatMap((source) =>
          Object.keys(configMapData(manifests, source.configMapRef?.name ?? '') ?? {}),
        ),
      ];

      return configured
        .filter((name) => !read.has(name))
        .map((name) => `${where}: sets ${name}, which ${process} never reads`);
    }),
  );
}

/**
 * Pods run as the image's non-root user, without privilege, on a read-only root file system;
 * where the process writes (its data directory, /tmp) is an emptyDir.
 */
export function securityProblems(manifests: Manifest[], references: References): string[] {
  const imageUser = Number(references.image.user?.split(':')[0]);

  return ofKind<IDeployment>(manifests, 'Deployment').flatMap((deployment) => {
    const pod = deployment.spec?.template.spec;
    const where = `Deployment/${nameOf(deployment)}`;
    const problems: string[] = [];
    if (!Number.isInteger(imageUser) || imageUser === 0) {
      problems.push(
        `the image's USER must be a numeric non-root uid, got ${references.image.user}`,
      );
    }
    if (
      pod?.securityContext?.runAsNonRoot !== true ||
      pod.securityContext.runAsUser !== imageUser
    ) {
      problems.push(`${where}: pods must run as non-root uid ${imageUser}, the image's user`);
    }
    if (pod?.securityContext?.seccompProfile?.type !== 'RuntimeDefault') {
      problems.push(`${where}: pods need the RuntimeDefault seccomp profile`);
    }
    if (pod?.automountServiceAccountToken !== false) {
      problems.push(`${where}: no process talks to the Kubernetes API; do not mount a token`);
    }
    for (const volume of pod?.volumes ?? []) {
      // Secret files belong to root: the process reads them through the pod's fsGroup.
      const mode = volume.secret ? (volume.secret.defaultMode ?? 0o644) : 0o040;
      if (
        (mode & 0o044) !== 0o040 ||
        pod?.securityContext?.fsGroup !== pod?.securityContext?.runAsGroup
      ) {
        problems.push(
          `${where}: Secret volume ${volume.name} must be readable by the pod's group only`,
        );
      }
    }
    for (const container of containersOf(deployment)) {
      const context = container.securityContext;
      if (
        context?.readOnlyRootFilesystem !== true ||
        context.allowPrivilegeEscalation !== false ||
        !context.capabilities?.drop?.includes('ALL')
      ) {
        problems.push(
          `${where} ${container.name}: needs a read-only root, no privilege escalation, no capabilities`,
        );
      }
      const dataDirectory = environmentOf(container, manifests, references.image).get(
        'TURNAROUND_DATA_DIR',
      );
      for (const path of [dataDirectory ?? '', '/tmp']) {
        const mount = container.volumeMounts?.find((candidate) => candidate.mountPath === path);
        const volume = pod?.volumes?.find((candidate) => candidate.name === mount?.name);
        if (!volume?.emptyDir) {
          problems.push(
            `${where} ${container.name}: ${path} is written to and must be an emptyDir mount`,
          );
        }
      }
    }

    return problems;
  });
}

/**
 * Every file a variable names (the CA, the key ring) is on a mounted Secret that has it: the
 * mount's path plus the Secret's key, or its item's path.
 */
export function fileProblems(manifests: Manifest[], references: References): string[] {
  return ofKind<IDeployment>(manifests, 'Deployment').flatMap((deployment) =>
    containersOf(deployment).flatMap((container) => {
      const where = `Deployment/${nameOf(deployment)} ${container.name}`;

      return (container.env ?? [])
        .filter((variable) => variable.value?.startsWith('/'))
        .flatMap((variable) => {
          const path = variable.value!;
          const mount = container.volumeMounts?.find((candidate) =>
            path.startsWith(`${candidate.mountPath}/`),
          );
          const secret = deployment.spec?.template.spec?.volumes?.find(
            (volume) => volume.name === mount?.name,
          )?.secret;
          if (!mount || !secret) {
            return [`${where}: ${variable.name}=${path} is on no mounted Secret`];
          }
          const file = posix.relative(mount.mountPath, path);
          const files = secret.items
            ? secret.items.map((item) => item.path)
            : [...(references.secrets.get(secret.secretName ?? '')?.keys ?? [])];

          return files.includes(file)
            ? []
            : [
                `${where}: ${variable.name}=${path}, but Secret ${secret.secretName} gives no ${file}`,
              ];
        });
    }),
  );
}

/** Every container has CPU and memory requests and limits. */
export function resourceProblems(manifests: Manifest[]): string[] {
  return ofKind<IDeployment>(manifests, 'Deployment').flatMap((deployment) =>
    containersOf(deployment)
      .filter((container) =>
        ['requests', 'limits'].some((kind) => {
          const amounts = container.resources?.[kind as 'requests' | 'limits'];

          return amounts?.cpu === undefined || amounts.memory === undefined;
        }),
      )
      .map(
        (container) =>
          `Deployment/${nameOf(deployment)} ${container.name}: needs CPU and memory requests and limits`,
      ),
  );
}

/**
 * Every pod is under a default deny both ways; only the processes behind the launcher's routes
 * (the ingress's backends) admit the ingress controller; every pod may reach DNS, and the ports
 * of the database and broker URLs the guide documents.
 */
export function networkProblems(manifests: Manifest[], references: References): string[] {
  const policies = ofKind<INetworkPolicy>(manifests, 'NetworkPolicy');
  const behindIngress = new Set(launcherRoutes().map((route) => route.service));
  const urlPort = (secret: string, fallback: number): number => {
    const url = references.secrets.get(secret)?.literals.get('url');

    return url ? Number(new URL(url).port || fallback) : fallback;
  };
  const infrastructure = [urlPort('turnaround-database', 5432), urlPort('turnaround-amqp', 5671)];
  const problems: string[] = [];
  for (const deployment of ofKind<IDeployment>(manifests, 'Deployment')) {
    const labels = podLabels(deployment);
    const where = `Deployment/${nameOf(deployment)}`;
    const applying = policies.filter((policy) => matchesSelector(policy.spec?.podSelector, labels));
    const denies = applying.some(
      (policy) =>
        (['Ingress', 'Egress'] as const).every((type) =>
          policy.spec?.policyTypes?.includes(type),
        ) &&
        !policy.spec?.ingress &&
        !policy.spec?.egress,
    );
    if (!denies) {
      problems.push(`${where}: no default-deny policy covers its pods`);
    }
    const fromIngressController = applying.some((policy) =>
      (policy.spec?.ingress ?? []).some((rule) =>
        (rule.from ?? []).some(
          (peer) =>
            peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] ===
            'ingress-nginx',
        ),
      ),
    );
    const component = labels['app.kubernetes.io/component'];
    if (fromIngressController !== behindIngress.has(component)) {
      problems.push(
        `${where}: the ingress controller ${fromIngressController ? 'may' : 'may not'} reach it`,
      );
    }
    const egressPorts = applying.flatMap((policy) =>
      (policy.spec?.egress ?? []).flatMap((rule) =>
        (rule.ports ?? []).map((port) => `${port.protocol ?? 'TCP'}/${port.port}`),
      ),
    );
    for (const port of ['UDP/53', ...infrastructure.map((number) => `TCP/${number}`)]) {
      if (!egressPorts.includes(port)) {
        problems.push(`${where}: its pods may not reach ${port}`);
      }
    }
  }

  return problems;
}

/** Prometheus is told to scrape the port the process listens on, at a path it serves. */
export function metricsProblems(manifests: Manifest[], references: References): string[] {
  return ofKind<IDeployment>(manifests, 'Deployment').flatMap((deployment) => {
    const annotations = (deployment.spec?.template.metadata?.annotations ?? {}) as Labels;
    const where = `Deployment/${nameOf(deployment)}`;
    const path = annotations['prometheus.io/path'];
    const port = Number(annotations['prometheus.io/port']);
    const listening = mainContainers(deployment).map((container) =>
      Number(environmentOf(container, manifests, references.image).get('PORT')),
    );
    const problems: string[] = [];
    if (annotations['prometheus.io/scrape'] !== 'true' || !listening.includes(port)) {
      problems.push(`${where}: Prometheus is not told to scrape the port its process listens on`);
    }
    if (!path || !pathServed(path)) {
      problems.push(`${where}: Prometheus would scrape ${path}, which no process serves`);
    }

    return problems;
  });
}

/**
 * The Ingress routes the launcher's path split to the Services of the same processes, and the
 * public URL the enrollment profiles carry is https on the Ingress's host.
 */
export function ingressProblems(manifests: Manifest[]): string[] {
  const services = ofKind<IService>(manifests, 'Service');
  const problems: string[] = [];
  for (const ingress of ofKind<IIngress>(manifests, 'Ingress')) {
    const where = `Ingress/${nameOf(ingress)}`;
    const routed = new Map<string, string[]>();
    for (const rule of ingress.spec?.rules ?? []) {
      for (const path of rule.http?.paths ?? []) {
        const backend = path.backend.service;
        const service = services.find((candidate) => nameOf(candidate) === backend?.name);
        const port = service?.spec?.ports?.find(
          (candidate) =>
            candidate.name === backend?.port?.name || candidate.port === backend?.port?.number,
        );
        if (!service || !port) {
          problems.push(
            `${where}: ${path.path} goes to ${backend?.name}:${backend?.port?.name ?? backend?.port?.number}, which is not a Service port`,
          );
          continue;
        }
        if (path.pathType !== 'Prefix') {
          problems.push(`${where}: ${path.path} must be a Prefix path, as the launcher routes it`);
        }
        const component =
          (service.spec?.selector as Labels | undefined)?.['app.kubernetes.io/component'] ?? '';
        routed.set(component, [...(routed.get(component) ?? []), path.path ?? '']);
      }
      const hosts = (ingress.spec?.tls ?? []).flatMap((tls) => tls.hosts ?? []);
      if (!rule.host || !hosts.includes(rule.host)) {
        problems.push(`${where}: ${rule.host ?? 'a rule without a host'} is not served over TLS`);
      }
      for (const map of ofKind<IConfigMap>(manifests, 'ConfigMap')) {
        const publicUrl = map.data?.TURNAROUND_PUBLIC_URL;
        if (publicUrl !== undefined && publicUrl !== `https://${rule.host}`) {
          problems.push(
            `ConfigMap/${nameOf(map)}: TURNAROUND_PUBLIC_URL ${publicUrl} is not https://${rule.host}`,
          );
        }
      }
    }
    const expected = launcherRoutes()
      .map((route) => `${route.service} ${[...route.prefixes].sort().join(' ')}`)
      .sort();
    const actual = [...routed]
      .map(([component, paths]) => `${component} ${paths.sort().join(' ')}`)
      .sort();
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      problems.push(`${where}: routes ${actual.join('; ')}, the launcher ${expected.join('; ')}`);
    }
  }

  return problems;
}

/**
 * With a relay Deployment, the services leave their outboxes to it: otherwise each service
 * replica would also run a relay of its own.
 */
export function relayProblems(manifests: Manifest[], references: References): string[] {
  const containers = ofKind<IDeployment>(manifests, 'Deployment').flatMap((deployment) =>
    mainContainers(deployment).map((container) => ({
      deployment,
      container,
      process: processOf(container.args?.[0] ?? ''),
    })),
  );
  if (!containers.some((entry) => entry.process === 'relay')) {
    return [];
  }

  return containers
    .filter((entry) => entry.process !== 'relay')
    .filter(
      (entry) =>
        environmentOf(entry.container, manifests, references.image).get(
          'TURNAROUND_OUTBOX_RELAY',
        ) !== 'external',
    )
    .map(
      (entry) =>
        `Deployment/${nameOf(entry.deployment)}: publishes its own outbox beside the relay (TURNAROUND_OUTBOX_RELAY)`,
    );
}

/** Every check above, for one rendered set of manifests. */
export function referenceChecks(
  manifests: Manifest[],
  references: References,
): Record<string, string[]> {
  return {
    services: serviceProblems(manifests),
    probes: probeProblems(manifests, references),
    scaling: scalingProblems(manifests),
    references: referenceProblems(manifests, references),
    processes: processProblems(manifests, references),
    relay: relayProblems(manifests, references),
    security: securityProblems(manifests, references),
    files: fileProblems(manifests, references),
    resources: resourceProblems(manifests),
    network: networkProblems(manifests, references),
    metrics: metricsProblems(manifests, references),
    ingress: ingressProblems(manifests),
  };
}
