/**
 * The Helm chart (deploy/helm/fairline), checked with Helm itself (built from the Go module
 * proxy by infra/cluster-tools.ts ensureHelm): `helm lint`, and `helm template` under several
 * value sets with the rendered manifests parsed and asserted. No Kubernetes cluster is involved:
 * nothing here was applied to one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments, parse } from 'yaml';
import { PROJECT_ROOT } from '../../common/paths';
import { ensureHelm } from '../../infra/cluster-tools';
import { configOverridesSchema, loadConfig } from '../../temporal.config';

const run = promisify(execFile);
const CHART = join(PROJECT_ROOT, 'deploy', 'helm', 'fairline');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Probe {
  httpGet: { path: string; port: string };
}
interface Container {
  name: string;
  args: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number }[];
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  nodeSelector?: Record<string, string>;
  tolerations?: { key: string; effect: string }[];
  volumes?: { name: string; secret?: { secretName: string }; configMap?: { name: string } }[];
}

let helm: string;

async function template(sets: string[] = [], extra: string[] = []): Promise<Manifest[]> {
  const { stdout } = await run(helm, ['template', 't', CHART, ...sets.flatMap((s) => ['--set', s]), ...extra], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Manifest)
    .filter((m) => m !== null);
}

const find = (manifests: Manifest[], kind: string, name: string): Manifest => {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  assert.ok(found, `no ${kind} ${name} in ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`);
  return found;
};
const podOf = (m: Manifest): PodSpec => (m.spec as { template: { spec: PodSpec } }).template.spec;
const argAfter = (args: string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];

/** The environment a container would get, with every secretKeyRef filled by a stand-in value. */
function envWithSecrets(container: Container): NodeJS.ProcessEnv {
  return Object.fromEntries(
    (container.env ?? []).map((e) => [e.name, e.value ?? `from-secret-${e.valueFrom?.secretKeyRef?.name}`]),
  );
}

describe('the Helm chart', { timeout: 1_800_000 }, () => {
  before(async () => {
    helm = await ensureHelm({ log: (line) => process.stderr.write(`${line}\n`) });
  });

  it('passes helm lint, with default values and with Temporal Cloud ones', async () => {
    await run(helm, ['lint', '--strict', CHART]);
    await run(helm, [
      'lint',
      '--strict',
      CHART,
      '--set',
      'temporal.tls.enabled=true,temporal.tls.secretName=cloud-tls,temporal.apiKey.secretName=cloud-key,setup.enabled=false,autoscaling.enabled=true',
    ]);
  });

  it('renders a cpu and a gpu worker Deployment polling their queues, probed on the port they serve /healthz on', async () => {
    const manifests = await template();
    for (const kind of ['cpu', 'gpu']) {
      const pod = podOf(find(manifests, 'Deployment', `t-fairline-worker-${kind}`));
      const [container] = pod.containers;
      assert.ok(container);
      assert.equal(argAfter(container.args, '--queues'), kind);
      assert.equal(argAfter(container.args, '--config'), '/etc/fairline/config.yaml');
      const port = container.ports?.find((p) => p.name === 'health');
      assert.equal(String(port?.containerPort), argAfter(container.args, '--health-port'));
      for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
        assert.deepEqual(probe?.httpGet, { path: '/healthz', port: 'health' });
      }
      assert.ok(
        container.resources?.requests?.cpu && container.resources.limits?.memory,
        `${kind}: requests.cpu and limits.memory are set`,
      );
    }
  });

  it('gives the gpu worker a GPU, GPU nodes, and a termination grace long enough to checkpoint', async () => {
    const manifests = await template();
    const gpu = podOf(find(manifests, 'Deployment', 't-fairline-worker-gpu'));
    const cpu = podOf(find(manifests, 'Deployment', 't-fairline-worker-cpu'));
    assert.equal(gpu.containers[0]!.resources?.limits?.['nvidia.com/gpu'], 1);
    assert.equal(gpu.containers[0]!.resources?.requests?.['nvidia.com/gpu'], 1);
    assert.equal(cpu.containers[0]!.resources?.limits?.['nvidia.com/gpu'], undefined);
    assert.deepEqual(gpu.nodeSelector, { 'nvidia.com/gpu.present': 'true' });
    assert.deepEqual(
      gpu.tolerations?.map((t) => [t.key, t.effect]),
      [['nvidia.com/gpu', 'NoSchedule']],
    );
    assert.ok(gpu.terminationGracePeriodSeconds! >= 600, `gpu grace ${gpu.terminationGracePeriodSeconds} s`);
    assert.equal(argAfter(gpu.containers[0]!.args, '--max-gpu'), '1');
  });

  it('puts the configuration in a ConfigMap that loadConfig accepts, and the S3 keys only in secretKeyRefs', async () => {
    const manifests = await template();
    assert.deepEqual(
      manifests.filter((m) => m.kind === 'Secret'),
      [],
      'the chart never creates a Secret',
    );
    const configText = find(manifests, 'ConfigMap', 't-fairline').data!['config.yaml']!;
    const overrides = configOverridesSchema.parse(parse(configText));
    const container = podOf(find(manifests, 'Deployment', 't-fairline-worker-cpu')).containers[0]!;
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      const variable = container.env?.find((e) => e.name === name);
      assert.equal(variable?.value, undefined, `${name} has an inline value`);
      assert.equal(variable?.valueFrom?.secretKeyRef?.name, 'fairline-s3');
    }
    const config = loadConfig(overrides, envWithSecrets(container));
    assert.equal(config.temporal.address, 'temporal-frontend.temporal.svc.cluster.local:7233');
    assert.equal(config.temporal.embedded, false);
    assert.equal(config.store.uri, 's3://fairline-artifacts');
    assert.equal(config.trainer.python, '/opt/fairline/venv/bin/python');
  });

  it('with Temporal Cloud values, mounts the mTLS Secret and reads the API key from its Secret', async () => {
    const manifests = await template([
      'temporal.tls.enabled=true',
      'temporal.tls.secretName=cloud-tls',
      'temporal.tls.hasCa=true',
      'temporal.apiKey.secretName=cloud-key',
    ]);
    const configText = find(manifests, 'ConfigMap', 't-fairline').data!['config.yaml']!;
    const overrides = configOverridesSchema.parse(parse(configText));
    assert.deepEqual(overrides.temporal?.tls, {
      certFile: '/etc/fairline-tls/tls.crt',
      keyFile: '/etc/fairline-tls/tls.key',
      caFile: '/etc/fairline-tls/ca.crt',
    });
    assert.equal(overrides.temporal?.apiKeyEnv, 'FAIRLINE_TEMPORAL_API_KEY');
    const pod = podOf(find(manifests, 'Deployment', 't-fairline-worker-gpu'));
    assert.equal(pod.volumes?.find((v) => v.name === 'temporal-tls')?.secret?.secretName, 'cloud-tls');
    assert.ok(
      pod.containers[0]!.volumeMounts?.some((m) => m.name === 'temporal-tls' && m.mountPath === '/etc/fairline-tls'),
    );
    assert.deepEqual(pod.containers[0]!.env?.find((e) => e.name === 'FAIRLINE_TEMPORAL_API_KEY')?.valueFrom, {
      secretKeyRef: { name: 'cloud-key', key: 'api-key' },
    });
  });

  it('refuses to render an s3 store with env credentials but no Secret to take them from', async () => {
    await assert.rejects(
      template(['store.s3.secretName=']),
      /store\.s3\.secretName: an existing Secret with the S3 keys/,
    );
  });

  it("autoscales each worker on its task-queue backlog with KEDA's temporal scaler when asked", async () => {
    assert.deepEqual(
      (await template()).filter((m) => m.kind === 'ScaledObject'),
      [],
    );
    const manifests = await template(['autoscaling.enabled=true', 'temporal.apiKey.secretName=cloud-key']);
    for (const [kind, queueTypes] of [
      ['cpu', 'workflow,activity'],
      ['gpu', 'activity'],
    ] as const) {
      const scaled = find(manifests, 'ScaledObject', `t-fairline-worker-${kind}`);
      const spec = scaled.spec as {
        scaleTargetRef: { name: string };
        triggers: { type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }[];
      };
      assert.equal(spec.scaleTargetRef.name, `t-fairline-worker-${kind}`);
      assert.equal(spec.triggers[0]!.type, 'temporal');
      assert.equal(spec.triggers[0]!.metadata.taskQueue, kind);
      assert.equal(spec.triggers[0]!.metadata.namespace, 'fairline');
      assert.equal(spec.triggers[0]!.metadata.queueTypes, queueTypes);
      assert.equal(spec.triggers[0]!.authenticationRef?.name, 't-fairline-temporal');
      // KEDA owns the replica count then; a fixed one would fight it.
      assert.equal(
        (find(manifests, 'Deployment', `t-fairline-worker-${kind}`).spec as { replicas?: number }).replicas,
        undefined,
      );
    }
    const auth = find(manifests, 'TriggerAuthentication', 't-fairline-temporal');
    assert.deepEqual((auth.spec as { secretTargetRef: unknown[] }).secretTargetRef, [
      { parameter: 'apiKey', name: 'cloud-key', key: 'api-key' },
    ]);
  });

  it("applies the given pipelines' schedules with a post-install Job, and runs fairline setup", async () => {
    const demo = join(PROJECT_ROOT, 'pipelines', 'demo.yaml');
    const manifests = await template(
      ['schedules.enabled=true'],
      ['--set-file', `schedules.pipelines.demo\\.yaml=${demo}`],
    );
    assert.equal(
      find(manifests, 'ConfigMap', 't-fairline-pipelines').data!['demo.yaml']!.trim(),
      readFileSync(demo, 'utf8').trim(),
    );
    const job = find(manifests, 'Job', 't-fairline-schedules');
    assert.match(job.metadata.annotations!['helm.sh/hook']!, /post-install/);
    const args = podOf(job).containers[0]!.args;
    assert.deepEqual(args.slice(2), ['schedule', 'apply', '/etc/fairline-pipelines/demo.yaml']);
    const setup = podOf(find(manifests, 'Job', 't-fairline-setup')).containers[0]!;
    assert.deepEqual(setup.args.slice(2), ['setup', '--retention', '30']);
    assert.ok(
      setup.env?.every((e) => e.value === undefined),
      'the setup Job has no inline env values',
    );
  });
});
