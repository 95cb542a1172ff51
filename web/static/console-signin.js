// Sign-in to Vault from the page (docs/CONSOLE.md, "Sign-in"): Vault's
// OIDC auth method in a separate window, the identity provider's answer
// handed back by the callback page over a BroadcastChannel, Vault's login
// MFA answered with the authenticator app's code, and the identity token
// the gateway's admin API takes (as the CLI: Authorization: Bearer).
//
// The Vault token lives in a private field of one Session object, in
// memory only: never in localStorage, sessionStorage, a cookie or the URL.
// A reload or a new tab has none, and asks to sign in again. The gateway
// never receives it.

// The channel the callback window answers on. Any console page of this
// origin may hear it; only the window that started the attempt knows its
// state and client nonce, and Vault needs both with the code.
export const CHANNEL = 'mattersync-console-signin';

// SignInError is a refusal a person can act on; message says what to do.
export class SignInError extends Error {
	constructor(message, { status = 0, cause } = {}) {
		super(message, cause ? { cause } : undefined);
		this.name = 'SignInError';
		this.status = status;
	}
}

function randomNonce() {
	const b = crypto.getRandomValues(new Uint8Array(32));
	return btoa(String.fromCharCode(...b)).replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '');
}

// Vault is the few Vault endpoints the console calls, on Vault's origin
// (its CORS allows this page's origin: mattersync-admin vault init
// --console-url).
export class Vault {
	constructor(address, mount, role) {
		this.address = address.replace(/\/+$/, '');
		this.mount = mount;
		this.role = role;
	}

	// call sends one request and returns Vault's JSON answer; a refusal
	// throws a SignInError with Vault's messages.
	async call(method, path, { token, body, query } = {}) {
		const url = new URL(this.address + '/v1/' + path);
		for (const [k, v] of Object.entries(query || {})) url.searchParams.set(k, v);
		const headers = {};
		if (token) headers['X-Vault-Token'] = token;
		if (body !== undefined) headers['Content-Type'] = 'application/json';
		let resp;
		try {
			resp = await fetch(url, {
				method, headers, body: body === undefined ? undefined : JSON.stringify(body),
				credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer', mode: 'cors',
			});
		} catch (e) {
			throw new SignInError(`Vault at ${this.address} did not answer this page. If Vault is up, its CORS does not allow ${location.origin} yet: IT runs mattersync-admin vault init --console-url ${location.origin}.`, { cause: e });
		}
		const text = await resp.text();
		let doc = {};
		try { doc = text ? JSON.parse(text) : {}; } catch { doc = {}; }
		if (!resp.ok) {
			const msgs = Array.isArray(doc.errors) ? doc.errors.filter((m) => typeof m === 'string') : [];
			const err = new SignInError(msgs.join('; ') || `Vault answered ${resp.status}`, { status: resp.status });
			err.vaultErrors = msgs;
			throw err;
		}
		return doc;
	}
}

// mfaMessage says what Vault's refusal of a code means (as kms.mfaError).
function mfaMessage(err) {
	const m = String(err.message).toLowerCase();
	if (m.includes('code already used')) return 'This code was already used: wait for the next one in your authenticator app (every 30 seconds) and sign in again.';
	if (m.includes('not present in entity') || m.includes('does not contain the totp secret')) return 'No authenticator app is set up for your account: ask IT to run mattersync-admin user mfa enroll <your user name>.';
	if (m.includes('maximum totp validation attempts')) return 'Too many wrong codes: wait a minute and sign in again.';
	if (m.includes('failed to validate') || m.includes('invalid passcode')) return 'The code is wrong: use the current code of the mattersync entry in your authenticator app (check the phone\'s clock) and sign in again.';
	if (m.includes('invalid request id') || m.includes('mfa request')) return 'The sign-in waited too long for the code: sign in again.';
	return 'Vault refused the code: ' + err.message;
}

function callbackMessage(err) {
	const m = String(err.message);
	if (m.includes('Expired or missing OAuth state')) return 'Vault no longer knows this sign-in attempt (it expired, or was already used): sign in again.';
	if (m.includes('invalid client_nonce')) return 'The sign-in answer was not started by this window: refused.';
	if (err.status === 403) return 'Vault refused the sign-in (permission denied): your mattersync account may be disabled or not set up; ask IT.';
	return 'Vault refused the sign-in: ' + m;
}

// Session is one sign-in: the Vault token (private, in memory only), and
// the identity token fetched with it for the gateway.
export class Session {
	#vaultToken = '';
	#identity = null; // {token, expires (ms)}

	constructor(vault, { user = '', entity = '' } = {}) {
		this.vault = vault;
		this.user = user;
		this.entity = entity;
	}

	get signedIn() { return this.#vaultToken !== ''; }

	_set(token) { this.#vaultToken = token; }

	// identityToken returns an identity token for the gateway, fetched again
	// a minute before it expires (Vault's role: 5 minutes by default).
	async identityToken() {
		if (!this.#vaultToken) throw new SignInError('Signed out: sign in again.');
		if (this.#identity && this.#identity.expires - Date.now() > 60_000) return this.#identity.token;
		let doc;
		try {
			doc = await this.vault.call('GET', 'identity/oidc/token/' + this.vault.role, { token: this.#vaultToken });
		} catch (e) {
			if (e.status === 403) throw new SignInError('Vault no longer accepts this sign-in (expired or revoked): sign in again.', { status: 403, cause: e });
			throw e;
		}
		const token = doc && doc.data && doc.data.token;
		if (typeof token !== 'string' || token === '') throw new SignInError('Vault issued no identity token for role ' + this.vault.role + '.');
		const ttl = Number(doc.data.ttl) > 0 ? Number(doc.data.ttl) : 300;
		this.#identity = { token, expires: Date.now() + ttl * 1000 };
		return token;
	}

	// vaultRead reads a Vault path with this sign-in's token (the Matters
	// page: matters and their groups, as the admin policy allows). null
	// when Vault has nothing there (404). The token never leaves.
	async vaultRead(path, { list = false } = {}) {
		if (!this.#vaultToken) throw new SignInError('Signed out: sign in again.');
		try {
			return await this.vault.call('GET', path, { token: this.#vaultToken, query: list ? { list: 'true' } : undefined });
		} catch (e) {
			if (e.status === 404) return null;
			if (e.status === 403) throw new SignInError('Vault refused to read ' + path + ' with this sign-in (expired, revoked, or not in the admin policy).', { status: 403, cause: e });
			throw e;
		}
	}

	// close revokes the Vault token (best effort: it expires by itself) and
	// drops both tokens from memory.
	async close() {
		const t = this.#vaultToken;
		this.#vaultToken = '';
		this.#identity = null;
		if (t) {
			try { await this.vault.call('POST', 'auth/token/revoke-self', { token: t }); } catch { /* expires by itself */ }
		}
	}
}

// signIn runs the whole sign-in. ui supplies:
//   openWindow(): the sign-in window, opened in the click's handler (a
//     window opened after an await is a blocked pop-up);
//   askCode(methodName): a promise of the authenticator app's code;
//   progress(text).
// It resolves to a Session holding the Vault token.
export async function signIn(vault, ui, { timeoutMs = 5 * 60_000 } = {}) {
	const win = ui.openWindow();
	if (!win) throw new SignInError('The browser blocked the sign-in window: allow pop-ups for this site and sign in again.');
	const channel = new BroadcastChannel(CHANNEL);
	try {
		const nonce = randomNonce();
		const redirect = location.origin + '/console/callback';
		ui.progress('Starting the sign-in at Vault…');
		const started = await vault.call('POST', `auth/${vault.mount}/oidc/auth_url`, { body: { role: '', redirect_uri: redirect, client_nonce: nonce } });
		const authURL = started && started.data && started.data.auth_url;
		if (!authURL) {
			// Vault answers an empty URL to a redirect URI its role does not allow.
			throw new SignInError(`Vault does not allow this console's callback ${redirect}: IT runs mattersync-admin vault init --console-url ${location.origin} (and registers the callback at the identity provider).`);
		}
		const u = new URL(authURL);
		const state = u.searchParams.get('state');
		if (!state || (u.protocol !== 'https:' && u.protocol !== 'http:')) throw new SignInError('Vault\'s sign-in URL is not usable.');
		const answer = new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new SignInError('The sign-in was not completed within 5 minutes: sign in again.')), timeoutMs);
			channel.onmessage = (ev) => {
				const m = ev.data;
				if (!m || typeof m !== 'object' || m.state !== state) return; // another attempt's
				clearTimeout(timer);
				resolve(m);
			};
		});
		win.location.href = authURL;
		ui.progress('Sign in with your firm\'s account in the sign-in window…');
		const m = await answer;
		if (m.error) throw new SignInError('The identity provider refused the sign-in: ' + String(m.error) + (m.error_description ? ': ' + String(m.error_description) : ''));
		if (typeof m.code !== 'string' || m.code === '') throw new SignInError('The identity provider sent no authorization code: sign in again.');
		ui.progress('Checking the sign-in with Vault…');
		let doc;
		try {
			doc = await vault.call('GET', `auth/${vault.mount}/oidc/callback`, { query: { state, code: m.code, client_nonce: nonce } });
		} catch (e) {
			throw new SignInError(callbackMessage(e), { status: e.status, cause: e });
		}
		let auth = doc && doc.auth;
		const req = auth && auth.mfa_requirement;
		if (req && !auth.client_token) {
			const method = totpMethod(req);
			const code = String(await ui.askCode(method.name)).replace(/\s+/g, '');
			if (!/^[0-9]{6,8}$/.test(code)) throw new SignInError('The code is 6 digits from your authenticator app: sign in again.');
			ui.progress('Checking the code…');
			try {
				doc = await vault.call('POST', 'sys/mfa/validate', { body: { mfa_request_id: req.mfa_request_id, mfa_payload: { [method.id]: [code] } } });
			} catch (e) {
				throw new SignInError(mfaMessage(e), { status: e.status, cause: e });
			}
			auth = doc && doc.auth;
		}
		if (!auth || typeof auth.client_token !== 'string' || auth.client_token === '') throw new SignInError('Vault completed the sign-in but gave no token.');
		const s = new Session(vault);
		s._set(auth.client_token);
		return s;
	} finally {
		channel.close();
		try { if (!win.closed) win.close(); } catch { /* another origin's window */ }
	}
}

function totpMethod(req) {
	const types = [];
	for (const name of Object.keys(req.mfa_constraints || {}).sort()) {
		for (const m of (req.mfa_constraints[name].any || [])) {
			if (m.type === 'totp') return { id: m.id, name: m.name || name };
			types.push(m.type);
		}
	}
	throw new SignInError(`Vault asks for a second factor the console cannot answer (${types.join(', ')}); mattersync supports TOTP.`);
}

// answerCallback runs in the sign-in window when the identity provider
// sends it back to /console/callback: it hands the answer to the console's
// window and closes. The code leaves the address bar and history first.
export function answerCallback() {
	const q = new URLSearchParams(location.search);
	history.replaceState(null, '', location.pathname);
	const ch = new BroadcastChannel(CHANNEL);
	ch.postMessage({ state: q.get('state') || '', code: q.get('code') || '', error: q.get('error') || '', error_description: q.get('error_description') || '' });
	ch.close();
	window.close();
}
