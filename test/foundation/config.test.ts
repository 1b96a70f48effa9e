import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { cleanup, spawnNode, spawnService } from '../support/processes.ts';

function rejection(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('configuration', () => {
  after(cleanup);

  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.http).to.include({ host: '0.0.0.0', port: 8080 });
    expect(c.db).to.include({ url: undefined, dataDir: '.data', migrateOnStart: true });
    expect(c.providers).to.include({ llmModel: 'qwen2.5-14b', llmTimeoutMs: 300_000 });
    expect(c).to.include({ logLevel: 'info', production: false });
    expect(c.shutdown).to.include({ delayMs: 0 });
    expect(Object.isFrozen(c)).to.equal(true);
    for (const section of Object.values(c)) if (typeof section === 'object') expect(Object.isFrozen(section)).to.equal(true);
  });

  it('reads the listen, database, provider and log variables', () => {
    const c = loadConfig({
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '9090',
      DATABASE_URL: 'postgresql://u:p@db.example:5432/ai',
      MIGRATE_ON_START: 'false',
      LLM_BASE_URL: 'http://llm.local:8000/v1/',
      LLM_API_KEY: 'sk-test',
      LLM_MODEL: 'qwen3-32b',
      LLM_TIMEOUT: '90s',
      WHISPERX_URL: 'https://whisperx.local',
      OPENCLAW_URL: 'https://openclaw.local/gw',
      LOG_LEVEL: 'debug',
    });
    expect(c.http).to.include({ host: '127.0.0.1', port: 9090 });
    expect(c.db).to.include({ url: 'postgresql://u:p@db.example:5432/ai', migrateOnStart: false });
    expect(c.providers).to.include({
      llmBaseUrl: 'http://llm.local:8000/v1',
      llmApiKey: 'sk-test',
      llmModel: 'qwen3-32b',
      llmTimeoutMs: 90_000,
      whisperxUrl: 'https://whisperx.local',
      openclawUrl: 'https://openclaw.local/gw',
    });
    expect(c).to.include({ logLevel: 'debug' });
  });

  for (const [raw, ms] of [
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
  ] as const) {
    it(`parses the duration ${raw} as ${ms} ms`, () => {
      expect(loadConfig({ LLM_TIMEOUT: raw }).providers.llmTimeoutMs).to.equal(ms);
    });
  }

  it('reads the production-topology variables, with their defaults', () => {
    const c = loadConfig({});
    expect(c.http.keepAliveTimeoutMs).to.equal(65_000);
    expect(c.shutdown.quietMs).to.equal(1000);
    expect(c.webhooks.allowPrivateAddresses).to.equal(false);
    expect(c.db).to.include({ directUrl: undefined, preparedStatements: true });
    const direct = 'postgres://u:p@db:5432/ai';
    const pooled = loadConfig({ DATABASE_URL: 'postgres://u:p@pgbouncer:6432/ai', DATABASE_DIRECT_URL: direct });
    expect(pooled.db).to.include({ directUrl: direct, preparedStatements: false });
    expect(
      loadConfig({ DATABASE_URL: direct, DATABASE_DIRECT_URL: direct, DB_PREPARED_STATEMENTS: 'true' }).db.preparedStatements,
    ).to.equal(true);
    expect(rejection({ DATABASE_DIRECT_URL: direct }).message).to.equal('DATABASE_DIRECT_URL needs DATABASE_URL');
    expect(rejection({ HTTP_KEEP_ALIVE_TIMEOUT: '0' }).message).to.match(/^HTTP_KEEP_ALIVE_TIMEOUT is invalid/);
    expect(rejection({ WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'maybe' }).message).to.match(/^WEBHOOK_ALLOW_PRIVATE_ADDRESSES is invalid/);
  });

  it('parses booleans true/false/1/0 in any case', () => {
    for (const [raw, value] of [
      ['true', true],
      ['false', false],
      ['1', true],
      ['0', false],
      ['TRUE', true],
      ['False', false],
    ] as const) {
      expect(loadConfig({ MIGRATE_ON_START: raw }).db.migrateOnStart, raw).to.equal(value);
    }
  });

  it('treats an empty variable as unset', () => {
    const c = loadConfig({ HTTP_PORT: '', LLM_TIMEOUT: '' });
    expect(c.http.port).to.equal(8080);
    expect(c.providers.llmTimeoutMs).to.equal(300_000);
  });

  const rejected: [string, string, string][] = [
    ['HTTP_PORT', '70000', 'a port number 0-65535'],
    ['HTTP_PORT', '-1', 'a port number 0-65535'],
    ['HTTP_PORT', '80.5', 'a port number 0-65535'],
    ['LLM_TIMEOUT', 'abc', 'a duration such as 500ms, 30s, 5m, 1h30m'],
    ['LLM_TIMEOUT', '17', 'a duration such as 500ms, 30s, 5m, 1h30m'],
    ['LLM_TIMEOUT', '0h', 'more than 0'],
    ['REAPER_INTERVAL', '30d', 'at most 24d'],
    ['LLM_BASE_URL', 'not a url', 'an http(s) URL'],
    ['WHISPERX_URL', 'ftp://files.local', 'an http(s) URL'],
    ['OPENCLAW_URL', '//no-scheme', 'an http(s) URL'],
    ['MIGRATE_ON_START', 'yes', 'true, false, 1 or 0'],
    ['LOG_LEVEL', 'loud', 'fatal, error, warn, info, debug, trace, silent'],
    ['DATABASE_URL', 'mysql://root:pw@db/ai', 'a postgres:// URL'],
  ];
  for (const [name, raw, form] of rejected) {
    it(`rejects ${name}=${raw}, naming the variable and the accepted form`, () => {
      const err = rejection({ [name]: raw });
      expect(err.message).to.match(new RegExp(`^${name} is invalid: expected `));
      expect(err.message).to.include(form);
      expect(err.message).not.to.include(raw);
    });
  }

  it('never puts a secret into the error message', () => {
    const secrets = {
      DATABASE_URL: 'postgres://svc:hunter2-secret@[db/ai',
      LLM_BASE_URL: 'https://user:llm-pass-secret@ bad host',
    };
    for (const [name, raw] of Object.entries(secrets)) {
      const err = rejection({ LLM_API_KEY: 'sk-live-secret', [name]: raw });
      expect(err.message).to.match(new RegExp(`^${name} is invalid`));
      expect(err.message).not.to.match(/secret|hunter2|llm-pass/);
    }
  });

  it('requires DATABASE_URL in production', () => {
    expect(rejection({ NODE_ENV: 'production' }).message).to.equal('DATABASE_URL is required in production');
    expect(loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://db/ai' }).production).to.equal(true);
  });

  describe('at process start', () => {
    it('exits 1 with one line and no stack trace when production lacks DATABASE_URL', async () => {
      const child = spawnService({ NODE_ENV: 'production' });
      expect(await child.exited).to.deep.equal({ code: 1, signal: null });
      expect(child.stderr()).to.equal('DATABASE_URL is required in production\n');
      expect(child.lines.join('')).to.equal('');
    });

    it('exits 1 naming the variable for a bad value, without echoing secrets', async () => {
      const child = spawnService({ HTTP_PORT: '70000', LLM_API_KEY: 'sk-live-secret' });
      expect(await child.exited).to.deep.equal({ code: 1, signal: null });
      expect(child.stderr()).to.equal('HTTP_PORT is invalid: expected a port number 0-65535\n');
    });

    it('rejects bad configuration in npm run migrate the same way', async () => {
      const child = spawnNode('scripts/migrate.ts', { LLM_TIMEOUT: 'abc' });
      expect(await child.exited).to.deep.equal({ code: 1, signal: null });
      expect(child.stderr()).to.match(/^LLM_TIMEOUT is invalid: expected a duration such as 500ms, 30s, 5m, 1h30m/);
      expect(child.stderr()).not.to.match(/\n\s+at /);
    });
  });
});
