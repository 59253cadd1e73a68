#!/usr/bin/env node
// Test OpenID Connect identity provider for pinpanel's integration tests.
//
// Built on the npm package oidc-provider@9, which is NOT vendored: install it with
//   npm install --prefix "$OIDC_PREFIX" oidc-provider@9
// and point OIDC_PREFIX at that folder (default: the folder holding this script).
// Prints exactly one stdout line, `LISTENING http://127.0.0.1:PORT` (= the issuer),
// then serves until killed or until its stdin closes. Everything else goes to stderr.
// See README.md for the environment variables, form fields and /__test hooks.

import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const env = process.env;
// oidc-provider prints notices with console.info (stdout): keep stdout for LISTENING only.
console.log = console.info = console.error;

// ---- load oidc-provider and its own copy of jose (ESM-only, so no NODE_PATH) ----
const prefix = env.OIDC_PREFIX || path.dirname(fileURLToPath(import.meta.url));
const requireFromPrefix = createRequire(path.join(prefix, 'package.json'));
let providerEntry;
try {
  providerEntry = requireFromPrefix.resolve('oidc-provider');
} catch {
  console.error(`oidc-provider not found under ${prefix}; run: npm install --prefix ${prefix} oidc-provider@9`);
  process.exit(2);
}
const joseEntry = createRequire(providerEntry).resolve('jose');
const { Provider, interactionPolicy } = await import(pathToFileURL(providerEntry).href);
const jose = await import(pathToFileURL(joseEntry).href);

// ---- configuration from the environment ----
const list = (value) => (value || '').split(/[\s,]+/).filter(Boolean);
const clients = [{
  client_id: env.OIDC_CLIENT_ID || 'pinpanel',
  client_secret: env.OIDC_CLIENT_SECRET || 'pinpanel-secret',
  redirect_uris: list(env.OIDC_REDIRECT_URIS || 'http://127.0.0.1:9/cb'),
  post_logout_redirect_uris: list(env.OIDC_POST_LOGOUT_REDIRECT_URIS),
}];
if (env.OIDC_CLIENT2_ID) {
  clients.push({
    client_id: env.OIDC_CLIENT2_ID,
    client_secret: env.OIDC_CLIENT2_SECRET || `${env.OIDC_CLIENT2_ID}-secret`,
    redirect_uris: list(env.OIDC_CLIENT2_REDIRECT_URIS || 'http://127.0.0.1:9/cb'),
    post_logout_redirect_uris: list(env.OIDC_CLIENT2_POST_LOGOUT_REDIRECT_URIS),
  });
}
const acrValues = list(env.OIDC_ACR_VALUES || 'urn:pinpanel:acr:pwd,urn:pinpanel:acr:mfa');

// ---- signing key (fresh per run) and the /__test hook state ----
async function newSigningKey(label) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: `${label}-${crypto.randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' };
  const { d, p, q, dp, dq, qi, ...publicJwk } = jwk;
  return { jwk, publicJwk, key: await jose.importJWK(jwk, 'RS256') };
}
const mainKey = await newSigningKey('main');
const TAMPER_MODES = ['expired', 'wrong-aud', 'wrong-nonce', 'wrong-iss', 'unsigned', 'bad-signature', 'new-key', 'no-auth-time'];
const hooks = { tamper: null, authError: null, extraKeys: [] }; // tamper and authError are one-shot
const accounts = new Map(); // sub -> claims typed into the login form

// ---- oidc-provider configuration ----
const policy = interactionPolicy.base();
// No single sign-on: every authorization request shows the login form (deterministic tests).
policy.get('login').checks.add(new interactionPolicy.Check(
  'always_login', 'the test IdP asks for a login on every authorization', 'login_required',
  (ctx) => !ctx.oidc.result?.login,
));

const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const configuration = {
  clients,
  jwks: { keys: [mainKey.jwk] },
  scopes: ['openid', 'email', 'profile'],
  // acr, amr and auth_time ride on the openid scope so that every id_token carries them
  // (oidc-provider otherwise adds them only when requested via acr_values/max_age/claims).
  claims: { openid: ['sub', 'acr', 'amr', 'auth_time'], email: ['email', 'email_verified'], profile: ['name'] },
  acrValues,
  conformIdTokenClaims: false, // put email/name into the id_token, not only into userinfo
  pkce: { required: () => true }, // S256 is the only method oidc-provider 9 accepts
  // Cookies are not isolated by port: name ours so they cannot clash with the RP's on 127.0.0.1.
  cookies: { names: { session: 'testidp_session', interaction: 'testidp_interaction', resume: 'testidp_resume' } },
  ttl: { AuthorizationCode: 60, AccessToken: 3600, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Sign out of the test IdP?', `${form}
<button id="logout-yes" type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button id="logout-no" type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      postLogoutSuccessSource: async (ctx) => { ctx.body = page('Signed out', '<p id="logged-out">You are signed out.</p>'); },
    },
  },
  interactions: { policy, url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const typed = accounts.get(sub) || { email: `${sub}@example.com`, email_verified: true, name: sub };
    return { accountId: sub, claims: async () => ({ sub, ...typed }) };
  },
  // Consent is implied for our first-party clients: grant whatever was asked for.
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const grant = new oidc.provider.Grant({ accountId: oidc.account.accountId, clientId: oidc.client.clientId });
    grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
    if (oidc.requestParamClaims.size) grant.addOIDCClaims([...oidc.requestParamClaims]);
    await grant.save();
    return grant;
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Test IdP error', `<pre id="error">${esc(Object.entries(out).map(([k, v]) => `${k}: ${v}`).join('\n'))}</pre>`);
  },
};

// ---- the HTTP server: listen first (port 0), then build the provider with the real issuer ----
let handle = (req, res) => { res.statusCode = 503; res.end(); };
const server = http.createServer((req, res) => handle(req, res));
await new Promise((resolve, reject) => server.once('error', reject).listen(Number(env.OIDC_PORT || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error:', err));

// Loopback http redirect URIs match on any port (RFC 8252 style), so a test can register
// http://127.0.0.1/cb before it knows the port its relying party will listen on.
const loopback = new Set(['127.0.0.1', 'localhost', '[::1]']);
const samePortless = (a, b) => {
  const x = URL.parse(a); const y = URL.parse(b);
  return !!x && !!y && x.protocol === 'http:' && y.protocol === 'http:' && loopback.has(x.hostname)
    && x.hostname === y.hostname && x.pathname === y.pathname && x.search === y.search;
};
const { prototype: clientProto } = provider.Client;
clientProto.redirectUriAllowed = function allowed(uri) { return this.redirectUris.some((r) => r === uri || samePortless(r, uri)); };
clientProto.postLogoutRedirectUriAllowed = function allowed(uri) { return (this.postLogoutRedirectUris || []).some((r) => r === uri || samePortless(r, uri)); };

// ---- id_token tampering for the /__test/tamper hook ----
const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString());
const toB64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
async function sign(header, payload, signer) {
  return new jose.CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader({ ...header, alg: 'RS256', kid: signer.publicJwk.kid }).sign(signer.key);
}
async function tamper(idToken, mode) {
  const [h, p, s] = idToken.split('.');
  const header = b64json(h); const payload = b64json(p);
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case 'expired': return sign(header, { ...payload, iat: now - 7200, exp: now - 3600 }, mainKey);
    case 'wrong-aud': return sign(header, { ...payload, aud: 'some-other-client' }, mainKey);
    case 'wrong-nonce': return sign(header, { ...payload, nonce: 'not-the-nonce-you-sent' }, mainKey);
    case 'wrong-iss': return sign(header, { ...payload, iss: 'http://127.0.0.1:1/not-the-issuer' }, mainKey);
    case 'unsigned': return `${toB64({ alg: 'none' })}.${p}.`;
    case 'bad-signature': {
      const sig = Buffer.from(s, 'base64url'); sig[0] ^= 0x01;
      return `${h}.${p}.${sig.toString('base64url')}`;
    }
    case 'no-auth-time': {
      const { auth_time: _, ...rest } = payload;
      return sign(header, rest, mainKey);
    }
    case 'new-key': {
      const fresh = await newSigningKey('rotated');
      hooks.extraKeys.push(fresh.publicJwk); // the jwks_uri serves it from now on
      return sign(header, payload, fresh);
    }
    default: throw new Error(`unknown tamper mode ${mode}`);
  }
}

// ---- koa middleware placed in front of oidc-provider's own routes ----
async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return Object.fromEntries(new URLSearchParams(body));
}
function seeOther(ctx, location) { ctx.status = 303; ctx.set('Location', location); ctx.body = ''; }
function json(ctx, status, body) { ctx.status = status; ctx.body = body; }

function loginForm(uid, details, message = '') {
  const client = details.params.client_id;
  return page(`Test IdP: sign in to ${esc(client)}`, `${message && `<p id="login-error">${esc(message)}</p>`}
<form id="login-form" method="post" action="/interaction/${uid}/login">
<p><label for="sub">Subject (username)</label> <input id="sub" name="sub" required autofocus value="${esc(details.params.login_hint)}"></p>
<p><label for="email">email</label> <input id="email" name="email" placeholder="SUB@example.com"></p>
<p><label for="email_verified">email_verified</label> <input id="email_verified" name="email_verified" placeholder="true"></p>
<p><label for="name">name</label> <input id="name" name="name" placeholder="SUB"></p>
<p><label for="amr">amr (comma-separated, - for none)</label> <input id="amr" name="amr" placeholder="pwd"></p>
<p><label for="acr">acr (- for none)</label> <input id="acr" name="acr" placeholder="${esc(acrValues[0])}"></p>
<p><label for="auth_age">seconds since the person authenticated (auth_time)</label> <input id="auth_age" name="auth_age" placeholder="0"></p>
<p><button id="login-submit" type="submit" name="action" value="login">Sign in</button>
<button id="login-cancel" type="submit" name="action" value="cancel" formnovalidate>Cancel</button></p>
</form>`);
}

async function finishInteraction(ctx, result) {
  const interaction = await provider.interactionDetails(ctx.req, ctx.res);
  if (result.login && interaction.session) {
    // A previous IdP session exists: drop it, so logging in as someone else is not
    // answered with oidc-provider's "sign out first" page.
    await (await provider.Session.findByUid(interaction.session.uid))?.destroy();
    delete interaction.session;
  }
  interaction.result = result;
  await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
  seeOther(ctx, interaction.returnTo);
}

async function interactions(ctx) {
  const [, uid, action] = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (ctx.method === 'GET' && !action) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (hooks.authError) {
      const result = hooks.authError; hooks.authError = null;
      return finishInteraction(ctx, result);
    }
    if (details.prompt.name !== 'login') throw new Error(`unexpected prompt ${details.prompt.name}`);
    ctx.type = 'html'; ctx.body = loginForm(uid, details);
    return undefined;
  }
  if (ctx.method === 'POST' && action) {
    const form = await readForm(ctx.req);
    if (form.action === 'cancel') {
      return finishInteraction(ctx, { error: 'access_denied', error_description: 'End-User cancelled the login' });
    }
    const sub = (form.sub || '').trim();
    if (!sub) {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      ctx.status = 400; ctx.type = 'html'; ctx.body = loginForm(uid, details, 'subject is required');
      return undefined;
    }
    const amr = form.amr === '-' ? undefined : list(form.amr || 'pwd');
    const acr = form.acr === '-' ? undefined : (form.acr || acrValues[0]);
    accounts.set(sub, {
      email: form.email || `${sub}@example.com`,
      email_verified: !['false', '0', 'no', 'off'].includes((form.email_verified || 'true').toLowerCase()),
      name: form.name || sub,
    });
    // `ts` is when the person authenticated (the ID token's auth_time): a sign-in that reuses an
    // old session at a real provider says an old time, which the form's auth_age imitates.
    const ts = Math.floor(Date.now() / 1000) - Number(form.auth_age || 0);
    return finishInteraction(ctx, { login: { accountId: sub, amr, acr, ts, remember: false } });
  }
  ctx.status = 405;
  return undefined;
}

async function testHooks(ctx) {
  const name = ctx.path.slice('/__test/'.length);
  if (name === 'state' && ctx.method === 'GET') return json(ctx, 200, { ...hooks, accounts: Object.fromEntries(accounts) });
  if (ctx.method !== 'POST') return json(ctx, 405, { error: 'use POST' });
  switch (name) {
    case 'tamper': {
      const { mode } = ctx.query;
      if (!TAMPER_MODES.includes(mode)) return json(ctx, 400, { error: 'unknown mode', modes: TAMPER_MODES });
      hooks.tamper = mode;
      break;
    }
    case 'error':
      hooks.authError = {
        error: ctx.query.error || 'access_denied',
        error_description: ctx.query.error_description || 'denied by the test IdP error hook',
      };
      break;
    case 'reset':
      Object.assign(hooks, { tamper: null, authError: null, extraKeys: [] });
      break;
    default: return json(ctx, 404, { error: 'unknown hook' });
  }
  console.error(`test hook ${name}:`, JSON.stringify(ctx.query));
  return json(ctx, 200, { tamper: hooks.tamper, error: hooks.authError, extraKeys: hooks.extraKeys.length });
}

provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/interaction/')) {
    try {
      return await interactions(ctx);
    } catch (err) {
      ctx.status = err.statusCode || 400; ctx.type = 'html';
      ctx.body = page('Test IdP error', `<pre id="error">${esc(err.error_description || err.message)}</pre>`);
      return undefined;
    }
  }
  if (ctx.path.startsWith('/__test/')) return testHooks(ctx);

  await next();

  if (ctx.path === '/jwks' && hooks.extraKeys.length) {
    ctx.body = { keys: [...ctx.body.keys, ...hooks.extraKeys] };
  }
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token && hooks.tamper) {
    const mode = hooks.tamper; hooks.tamper = null;
    ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token, mode) };
    console.error(`test hook: id_token tampered (${mode})`);
  }
  return undefined;
});

handle = provider.callback();
process.stdout.write(`LISTENING ${issuer}\n`);

// Exit when the parent goes away (its end of our stdin closes), unless told not to.
if (env.OIDC_IGNORE_STDIN !== '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
