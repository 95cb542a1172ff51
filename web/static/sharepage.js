// The recipient's page of a share link (docs/SHARING.md): /s/<id>#<key>.
// It asks the gateway for the link's state, has a one-time code e-mailed to
// the recipient, trades the code for a single-use download grant, fetches
// the share object and decrypts it here with share.js, segment by segment
// as it arrives, then saves it under its decrypted name. The key never
// leaves the fragment; the gateway sees neither the key nor the name.
//
// Every text from the server or the object (the recipient hint, the name)
// goes in with textContent only, never as markup. The state is mirrored in
// data-share-state (and data-share-error) on <html> for the tests.
import { parseShareKey, ShareReader } from './share.js';

const $ = (id) => document.getElementById(id);

// What each refusal says to the recipient. The kinds are the gateway's
// error codes, plus the page's own for what the browser finds.
const MESSAGES = {
	share_expired: 'This link has expired. Ask the sender for a new one.',
	share_revoked: 'The sender has withdrawn this link. Ask them for a new one if you still need the file.',
	share_used_up: 'This link has been used as many times as the sender allowed. Ask the sender for a new one.',
	code_wrong: 'That code is not right, or it was already used or has expired. Check the latest e-mail, or ask for a new code.',
	code_limit: 'Too many codes were asked for or tried. Wait a while, then try again.',
	grant_invalid: 'The permission to download has expired or was already used. Ask for a new code.',
	not_found: 'This link does not exist. Check that you copied all of it, or ask the sender for it again.',
	altered: 'This link was altered or is incomplete: the file could not be decrypted, and nothing was saved. Ask the sender for the link again.',
	damaged: 'The file arrived damaged or incomplete, and nothing was saved. Ask the sender for a new link.',
	rate_limited: 'Too many requests came from your network. Wait a minute, then reload this page.',
	network: 'The server could not be reached. Check your connection and try again.',
	unknown: 'Something went wrong, and nothing was saved. Try again later, or ask the sender for a new link.',
};

// The link's states in GET /s/{id}/info, as error kinds.
const STATES = { expired: 'share_expired', revoked: 'share_revoked', used_up: 'share_used_up' };

class Refusal extends Error {
	constructor(kind, retryAfter) {
		super(kind);
		this.kind = kind;
		this.retryAfter = retryAfter;
	}
}

function setState(state) { document.documentElement.dataset.shareState = state; }

function show(id, on) { $(id).hidden = !on; }

function status(text) { $('status').textContent = text; }

// refuse shows why nothing more can happen now; what the page held is gone.
function refuse(kind, retryAfter) {
	let text = MESSAGES[kind] || MESSAGES.unknown;
	if (kind === 'rate_limited' && retryAfter > 60) {
		const min = Math.ceil(retryAfter / 60);
		text = `Too many requests came from your network. Wait ${min} minutes, then reload this page.`;
	}
	if (kind === 'code_limit' && retryAfter > 0) {
		const min = Math.ceil(retryAfter / 60);
		text = `Too many codes were asked for or tried. Wait ${min} minute${min === 1 ? '' : 's'}, then try again.`;
	}
	$('error').textContent = text;
	show('error', true);
	status('');
	document.documentElement.dataset.shareError = MESSAGES[kind] ? kind : 'unknown';
	setState('refused');
}

// call makes a request to the share's routes; a refusal throws its kind.
async function call(path, init) {
	let res;
	try {
		res = await fetch(path, { cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer', ...init });
	} catch {
		throw new Refusal('network');
	}
	if (res.ok) return res;
	let kind = '';
	try {
		const body = await res.json();
		kind = body.code || body.kind || '';
	} catch {
		// not JSON: the status decides
	}
	if (!MESSAGES[kind]) {
		kind = { 404: 'not_found', 410: 'share_expired', 429: 'code_limit' }[res.status] || 'unknown';
	}
	throw new Refusal(kind, Number(res.headers.get('Retry-After')) || 0);
}

function formatSize(n) {
	if (n < 1024) return `${n} bytes`;
	const units = ['KB', 'MB', 'GB', 'TB'];
	let v = n, i = -1;
	do { v /= 1024; i++; } while (v >= 1024 && i < units.length - 1);
	return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function formatTime(s) {
	const d = new Date(s);
	return Number.isNaN(d.getTime()) ? String(s) : d.toLocaleString();
}

// download fetches the share object with the grant and decrypts it as it
// arrives. The whole file is kept in memory until the last segment
// authenticates (only then is anything saved); on any failure it is
// dropped.
async function download(base, key, grant) {
	const res = await call(`${base}/object`, { headers: { Authorization: `Grant ${grant}` } });
	status('Downloading and decrypting…');
	let parts = [];
	let info;
	const body = res.body.getReader();
	try {
		const reader = new ShareReader(key, body);
		info = await reader.meta();
		let got = 0;
		for await (const p of reader.segments()) {
			parts.push(p);
			got += p.length;
			status(`Decrypting ${info.name}: ${formatSize(got)} of ${formatSize(info.size)}`);
		}
	} catch (e) {
		parts = [];
		body.cancel().catch(() => {}); // the rest is not wanted
		if (e instanceof Refusal) throw e;
		// A wrong key fails on the metadata: the fragment was changed.
		throw new Refusal(e.kind === 'auth failure' && !info ? 'altered' : 'damaged');
	}
	const url = URL.createObjectURL(new Blob(parts, { type: 'application/octet-stream' }));
	parts = [];
	const a = document.createElement('a');
	a.href = url;
	a.download = info.name;
	a.click();
	$('name').textContent = info.name;
	$('size').textContent = formatSize(info.size);
	status('');
	show('done', true);
	setState('done');
}

async function main() {
	const m = /^\/s\/([A-Za-z0-9_-]{1,128})$/.exec(location.pathname);
	if (!m) return refuse('not_found');
	const base = `/s/${m[1]}`;
	let key;
	try {
		key = parseShareKey(location.hash);
	} catch {
		// No code is sent for a link whose key is missing or malformed.
		return refuse('altered');
	}
	const info = await (await call(`${base}/info`)).json();
	if (info.state !== 'ok') return refuse(STATES[info.state] || 'unknown');
	$('hint').textContent = info.recipient_hint || '';
	$('expires').textContent = formatTime(info.expires);
	status('');
	show('ask', true);
	setState('ask');

	$('send').addEventListener('click', () => guard(async () => {
		$('send').disabled = true;
		setState('sending');
		status('Sending the code…');
		const sent = await (await call(`${base}/code`, { method: 'POST' })).json().catch(() => ({}));
		status(sent.expires ? `A code is on its way. It works once, until ${formatTime(sent.expires)}.` : 'A code is on its way. It works once.');
		$('send').textContent = 'Send another code';
		$('send').disabled = false;
		show('verify', true);
		$('code').focus();
		setState('code');
	}));
	$('verify').addEventListener('submit', (ev) => {
		ev.preventDefault();
		guard(async () => {
			const code = $('code').value.replace(/\s/g, '');
			if (!/^[0-9]{6}$/.test(code)) {
				$('error').textContent = 'The code has 6 digits.';
				show('error', true);
				return;
			}
			show('error', false);
			delete document.documentElement.dataset.shareError;
			$('download').disabled = true;
			setState('checking');
			status('Checking the code…');
			const v = await (await call(`${base}/verify`, {
				method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }),
			})).json();
			show('ask', false);
			show('verify', false);
			await download(base, key, v.grant);
		});
	});
}

// guard runs a step, turning whatever it throws into a refusal on the page.
async function guard(step) {
	try {
		await step();
	} catch (e) {
		const kind = e instanceof Refusal ? e.kind : 'unknown';
		if (kind === 'code_wrong') {
			// Another try is allowed (the gateway bounds them).
			$('download').disabled = false;
			$('code').value = '';
		} else {
			show('ask', false);
			show('verify', false);
		}
		refuse(kind, e.retryAfter);
	}
}

guard(main);
