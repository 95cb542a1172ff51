// The gateway's admin API as the console calls it: same origin, the
// identity token as a Bearer token (exactly as mattersync-admin sends it),
// never a cookie, never the Vault token.

export class APIError extends Error {
	constructor(status, code, message, requestID) {
		super(message);
		this.name = 'APIError';
		this.status = status;
		this.code = code;
		this.requestID = requestID;
	}
}

export class API {
	constructor(session) {
		this.session = session;
	}

	async call(method, path, { body, query, lines } = {}) {
		const url = new URL(path, location.origin);
		for (const [k, v] of Object.entries(query || {})) url.searchParams.set(k, v);
		const token = await this.session.identityToken();
		const headers = { Authorization: 'Bearer ' + token };
		if (body !== undefined) headers['Content-Type'] = 'application/json';
		const resp = await fetch(url, {
			method, headers, body: body === undefined ? undefined : JSON.stringify(body),
			credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer',
		});
		const text = await resp.text();
		if (resp.ok && lines) return jsonLines(text);
		let doc = null;
		try { doc = text ? JSON.parse(text) : null; } catch { doc = null; }
		if (!resp.ok) {
			const d = doc && typeof doc === 'object' ? doc : {};
			throw new APIError(resp.status, String(d.code || ''), String(d.message || `the gateway answered ${resp.status}`), String(d.request_id || resp.headers.get('X-Request-Id') || ''));
		}
		return doc;
	}

	signIn() { return this.call('POST', '/v1/admin/console/signin'); }
	devices() { return this.call('GET', '/v1/admin/devices'); }
	holds() { return this.call('GET', '/v1/admin/holds'); }
	// auditSearch: GET /v1/admin/audit with the filters of q (since,
	// until, user, matter, action, result, after_seq, limit), as
	// [{rec, line}] in sequence order; line is the record as the gateway
	// wrote it (the JSON lines export gives it back unchanged).
	auditSearch(q) {
		const query = {};
		for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') query[k] = String(v);
		return this.call('GET', '/v1/admin/audit', { query, lines: true });
	}
	verifyAudit() { return this.call('POST', '/v1/admin/audit/verify'); }
	hold(matter) { return this.call('GET', `/v1/admin/matters/${encodeURIComponent(matter)}/hold`); }
	holdHistory(matter) { return this.call('GET', `/v1/admin/matters/${encodeURIComponent(matter)}/hold/history`); }
}

// jsonLines parses the audit export: one record a line, then {"end":true}.
// Without that last line the export was cut, and a partial list is not
// shown as if it were the answer.
function jsonLines(text) {
	const out = [];
	for (const line of text.split('\n')) {
		if (!line.trim()) continue;
		let rec;
		try { rec = JSON.parse(line); } catch { throw new APIError(0, 'malformed', 'the gateway sent a line that is not JSON', ''); }
		if (rec && rec.end === true) return out;
		out.push({ rec, line });
	}
	throw new APIError(0, 'truncated', 'the audit export was cut before its end: search again', '');
}
