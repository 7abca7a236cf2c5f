import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipelineConfig } from '../../shared/src/config/pipeline';

const ROOT = resolve(__dirname, '../..');

describe('npx cdk synth', () => {
  let outdir: string;
  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'cdk-synth-cli-'));
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('exits 0 with no AWS credentials and no Docker', () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of Object.keys(env)) {
      if (/^AWS_/.test(name) || name === 'CDK_DEFAULT_ACCOUNT') delete env[name];
    }
    env.CDK_DEFAULT_REGION = 'eu-west-1';
    // A config or credentials file on this machine must not be read either.
    env.AWS_CONFIG_FILE = join(outdir, 'no-config');
    env.AWS_SHARED_CREDENTIALS_FILE = join(outdir, 'no-credentials');
    env.CDK_DISABLE_VERSION_CHECK = '1';
    env.CDK_DOCKER = 'docker-is-not-used';

    const run = spawnSync('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', outdir], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 110_000,
    });

    expect({ status: run.status, stderr: run.status === 0 ? '' : run.stderr }).toEqual({
      status: 0,
      stderr: '',
    });
    const templatePath = join(outdir, `${pipelineConfig.stackName}.template.json`);
    expect(existsSync(templatePath)).toBe(true);
    const template = JSON.parse(readFileSync(templatePath, 'utf8'));
    expect(Object.keys(template.Resources).length).toBeGreaterThan(20);
  }, 120_000);
});
