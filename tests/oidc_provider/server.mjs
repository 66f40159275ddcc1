// A real OpenID Provider for linkguard's sign-in tests: panva's oidc-provider on loopback.
//
// Test-only. Never expose it: any visitor can sign in as any configured user with one click.
//
//   node server.mjs [config.json]
//
// The config (all keys optional) names the listening host and port (0 = any free port), the
// clients, the users and where the user's claims go:
//
//   {"host": "127.0.0.1", "port": 0,
//    "clients": [{"client_id": "...", "client_secret": "...", "redirect_uris": ["..."]}],
//    "users": [{"id": "alice", "email": "...", "email_verified": true, "groups": ["..."]}],
//    "idTokenClaims": true}
//
// With "idTokenClaims": false the provider follows OIDC Core 5.4 to the letter and returns the
// e-mail only from the userinfo endpoint (oidc-provider's conformIdTokenClaims), the way some
// IdPs do; the relying party must handle both.
//
// Once listening it prints one JSON line, {"issuer": "http://127.0.0.1:<port>"}, and it exits
// when its standard input closes, so a test runner that dies never leaves it behind.
//
// Sign-in needs no browser: GET /interaction/<uid> is a plain HTML form, and a POST of
// "login=<user id>" to /interaction/<uid>/login signs that user in. Consent is granted
// automatically (loadExistingGrant below), as for a first-party client.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import process from 'node:process';

import Provider from 'oidc-provider';

const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  idTokenClaims: true,
  clients: [{
    client_id: 'linkguard-test',
    client_secret: 'linkguard-test-secret-not-for-production',
    redirect_uris: ['http://127.0.0.1:8080/auth/callback'],
  }],
  users: [
    { id: 'alice', email: 'Alice@corp.example', email_verified: true, groups: ['staff'] },
    { id: 'bob', email: 'bob@corp.example', email_verified: true, groups: ['staff', 'admins'] },
    { id: 'mallory', email: 'mallory@corp.example', email_verified: false, groups: [] },
  ],
};

const config = { ...DEFAULTS, ...(process.argv[2] ? JSON.parse(readFileSync(process.argv[2], 'utf8')) : {}) };
const users = new Map(config.users.map((user) => [user.id, user]));

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function send(res, status, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

function buildProvider(issuer) {
  // A fresh signing key per run: tests fetch it through discovery and the JWKS endpoint,
  // exactly as the relying party does against a real IdP.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: `test-${randomBytes(4).toString('hex')}`, use: 'sig', alg: 'RS256' };

  return new Provider(issuer, {
    clients: config.clients.map((client) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...client,
    })),
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    conformIdTokenClaims: !config.idTokenClaims,
    // PKCE on every authorization request, confidential clients included (RFC 9700 §2.1.1).
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: { AuthorizationCode: 60, AccessToken: 600, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
    async findAccount(_ctx, id) {
      const user = users.get(id);
      if (!user) return undefined;
      return {
        accountId: id,
        async claims() {
          const claims = { sub: id, email: user.email, email_verified: user.email_verified, groups: user.groups };
          // A user without an address has no e-mail claims at all, as at a real IdP.
          return Object.fromEntries(Object.entries(claims).filter(([, value]) => value != null));
        },
      };
    },
    // Consent is implied: grant every scope the client asked for.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(ctx.oidc.params.scope ?? 'openid');
      await grant.save();
      return grant;
    },
  });
}

async function interaction(provider, req, res, url) {
  const match = url.pathname.match(/^\/interaction\/([\w-]+)(\/login)?$/);
  if (!match) return send(res, 404, 'not found');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== match[1]) return send(res, 400, 'interaction mismatch');
  if (req.method === 'GET' && !match[2]) {
    const options = [...users.keys()].map((id) => `<option>${escapeHtml(id)}</option>`).join('');
    return send(res, 200, `<!doctype html><title>Test sign-in</title>
<form method="post" action="/interaction/${escapeHtml(details.uid)}/login">
<label>User <select name="login">${options}</select></label>
<button type="submit">Sign in</button></form>`);
  }
  if (req.method === 'POST' && match[2]) {
    const login = (await readForm(req)).get('login') ?? '';
    if (!users.has(login)) return send(res, 400, `unknown user ${escapeHtml(login)}`);
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  return send(res, 405, 'method not allowed');
}

let provider;
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname.startsWith('/interaction/')) {
    interaction(provider, req, res, url).catch((err) => send(res, 400, escapeHtml(err.message)));
    return;
  }
  provider.callback()(req, res);
});

server.listen(config.port, config.host, () => {
  const { port } = server.address();
  const issuer = `http://${config.host}:${port}`;
  provider = buildProvider(issuer);
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
