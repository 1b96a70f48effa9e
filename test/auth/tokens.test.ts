// The token list as an operator writes it: JSON or YAML, several tokens per name,
// hashed tokens; and every mistake refused at start with a message that names
// the entry but never contains a token.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { createAccessControl } from '../../src/auth/access.ts';
import { hashToken } from '../../src/auth/tokens.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { startService } from '../../src/server.ts';
import { captureLogger, setup } from '../support/service.ts';
import { as } from './fixtures.ts';

const T1 = 'first-token-aaaaaaaaaaaaaaaa';
const T2 = 'second-token-bbbbbbbbbbbbbbb';
const T3 = 'third-token-ccccccccccccccccc';

function refusal(env: Record<string, string>): string {
  try {
    createAccessControl(loadConfig(env), captureLogger().logger);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('API tokens', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ai-service-tokens-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads a YAML file with several tokens per name and a hashed token', async () => {
    const file = path.join(dir, 'tokens.yaml');
    const yaml = stringify({
      tokens: [
        { name: 'telephony', role: 'producer', owner_services: ['telephony'], tokens: [T1, T2] },
        { name: 'ops', role: 'admin', token: `sha256:${hashToken(T3).toString('hex')}` },
      ],
    });
    await writeFile(file, `# tokens for ai-service\n${yaml}`);
    const t = await setup({ API_TOKENS_FILE: file });
    try {
      await as(t.api.get('/api/v1/jobs'), T1).expect(200);
      await as(t.api.get('/api/v1/jobs'), T2).expect(200);
      await as(t.api.get('/api/v1/stats'), T3).expect(200);
      await as(t.api.get('/api/v1/stats'), `sha256:${hashToken(T3).toString('hex')}`).expect(401);
      const started = t.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'access control is on');
      expect(started.tokens).to.deep.equal({ telephony: 2, ops: 1 });
    } finally {
      await t.close();
    }
  });

  it('reads a JSON file (a bare list) and merges API_TOKENS with it', async () => {
    const file = path.join(dir, 'tokens.json');
    await writeFile(file, JSON.stringify([{ name: 'gpu', role: 'worker', token: T1 }]));
    const t = await setup({ API_TOKENS_FILE: file, API_TOKENS: JSON.stringify([{ name: 'ops', role: 'admin', token: T2 }]) });
    try {
      await as(t.api.post('/api/v1/jobs/claim'), T1)
        .send({ worker_id: 'w', task_types: ['none'] })
        .expect(200);
      await as(t.api.get('/api/v1/stats'), T1).expect(403);
      await as(t.api.get('/api/v1/stats'), T2).expect(200);
    } finally {
      await t.close();
    }
  });

  it('refuses a token, or a name with another scope, in both API_TOKENS and the file', async () => {
    const file = path.join(dir, 'dup.json');
    await writeFile(file, JSON.stringify([{ name: 'gpu', role: 'worker', token: T1 }]));
    const text = refusal({ API_TOKENS_FILE: file, API_TOKENS: JSON.stringify([{ name: 'ops', role: 'admin', token: T1 }]) });
    expect(text).to.equal('a token is listed in both API_TOKENS and API_TOKENS_FILE');
    const clash = refusal({ API_TOKENS_FILE: file, API_TOKENS: JSON.stringify([{ name: 'gpu', role: 'admin', token: T2 }]) });
    expect(clash).to.equal('token name gpu has different roles or scopes in API_TOKENS and API_TOKENS_FILE');
  });

  const INVALID: [string, unknown, RegExp][] = [
    ['an unknown role', [{ name: 'x', role: 'root', token: T1 }], /entry 0\/role must be equal to one of the allowed values/],
    ['a producer without owner_services', [{ name: 'x', role: 'producer', token: T1 }], /entry 0 \(x\): a producer needs owner_services/],
    [
      'a worker with owner_services',
      [{ name: 'x', role: 'worker', owner_services: ['a'], token: T1 }],
      /a worker cannot have owner_services/,
    ],
    [
      'an admin with model_profiles',
      [{ name: 'x', role: 'admin', model_profiles: ['a'], token: T1 }],
      /an admin cannot have model_profiles/,
    ],
    ['an entry without a token', [{ name: 'x', role: 'admin' }], /needs token or tokens/],
    ['a short token', [{ name: 'x', role: 'admin', token: 'short' }], /entry 0\/token must NOT have fewer than 16 characters/],
    ['a token with a space', [{ name: 'x', role: 'admin', token: `${T1} ${T1}` }], /entry 0\/token must match pattern/],
    ['an unknown field', [{ name: 'x', role: 'admin', token: T1, scopes: ['a'] }], /must NOT have additional properties/],
    [
      'a name reused with another role',
      [
        { name: 'x', role: 'admin', token: T1 },
        { name: 'x', role: 'worker', token: T2 },
      ],
      /entry 1 \(x\): the name is used again with a different role or scope/,
    ],
    [
      'a token listed twice',
      [
        { name: 'x', role: 'admin', tokens: [T1] },
        { name: 'y', role: 'admin', token: T1 },
      ],
      /a token is listed twice/,
    ],
    ['not a list', { name: 'x', role: 'admin', token: T1 }, /expected a list of tokens/],
  ];
  for (const [what, list, message] of INVALID) {
    it(`refuses ${what}, without quoting a token`, () => {
      const text = refusal({ API_TOKENS: JSON.stringify(list) });
      expect(text).to.match(message);
      expect(text).to.not.include(T1.slice(0, 10)).and.not.include(T2.slice(0, 10));
    });
  }

  it('refuses malformed JSON and YAML without quoting the text around the mistake', async () => {
    expect(refusal({ API_TOKENS: `[{"name":"x","role":"admin","token":"${T1}"` })).to.equal('API_TOKENS is not valid JSON');
    const file = path.join(dir, 'broken.yaml');
    await writeFile(file, `tokens:\n  - name: x\n    role: admin\n    token: ${T1}: oops\n`);
    const text = refusal({ API_TOKENS_FILE: file });
    expect(text).to.match(/^API_TOKENS_FILE \(.*broken\.yaml\) is not valid JSON or YAML at line 4$/);
    expect(refusal({ API_TOKENS_FILE: path.join(dir, 'missing.yaml') })).to.match(/cannot be read: ENOENT/);
  });

  it('refuses to start in production without tokens, before touching the database', async () => {
    // A database URL nothing listens on: a refusal that came after connecting would say so.
    const config = loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://127.0.0.1:9/none' });
    const err = await startService(config, captureLogger().logger, {}, false).catch((e) => e);
    expect(err).to.be.instanceOf(ConfigError);
    expect(err.message).to.match(/^no API tokens in production: set API_TOKENS_FILE or API_TOKENS/);
  });

  it('runs open in production only with AUTH_DISABLED=true, and warns at start', async () => {
    const t = await setup({ NODE_ENV: 'production', AUTH_DISABLED: 'true' });
    try {
      await t.api.get('/api/v1/stats').expect(200);
      const warning = t.logs.map((l) => JSON.parse(l)).find((l) => l.level === 40 && /AUTH_DISABLED=true/.test(l.msg));
      expect(warning?.msg).to.include('access control is OFF');
    } finally {
      await t.close();
    }
  });

  it('runs open in development without tokens, and the start-up log says so', async () => {
    const t = await setup({});
    try {
      await t.api.get('/api/v1/stats').expect(200);
      const warning = t.logs.map((l) => JSON.parse(l)).find((l) => l.level === 40 && /no API tokens/.test(l.msg));
      expect(warning?.msg).to.include('access control is OFF in development');
    } finally {
      await t.close();
    }
  });
});
