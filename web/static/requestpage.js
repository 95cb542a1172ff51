// The client's page of a file request (docs/SHARING.md, "Request files"):
// /r/<id>#<public key>. It shows who asked and the limits, has a one-time
// code e-mailed to the named address, trades it for an upload grant, then
// seals each file the client picks to the request's public key with
// drop.js (the key from the fragment, which the browser never sends: the
// gateway that served this page cannot swap in its own) and uploads the
// sealed object. The gateway sees neither the names nor the contents.
//
// Every text from the server or the client's files goes in with
// textContent only, never as markup. The state is mirrored in
// data-request-state (and data-request-error) on <html> for the tests.
import { parseRequestKey, sealDrop, checkName } from './drop.js';

const $ = (id) => document.getElementById(id);

const MESSAGES = {
	request_expired: 'This link has expired. Ask the person who sent it for a new one.',
	request_revoked: 'This link was withdrawn by the firm. Ask the person who sent it for a new one if you still need to send files.',
	request_full: 'This link has taken all the files it allows. Ask the person who sent it for a new one to send more.',
	too_many: 'You picked more files than this link still takes. Nothing was sent: pick fewer files.',
	too_large: 'A file is larger than this link allows. Nothing more was sent: leave it out, or ask for another way to send it.',
	bad_name: 'A file name cannot be sent as it is (it is empty, too long, or has / or \\ in it). Nothing more was sent: rename the file, then try again.',
	code_wrong: 'That code is not right, or it was already used or has expired. Check the latest e-mail, or ask for a new code.',
	code_limit: 'Too many codes were asked for or tried. Wait a while, then try again.',
	grant_invalid: 'The permission to send files has expired. Reload the page and ask for a new code.',
	not_found: 'This link does not exist. Check that you copied all of it, or ask the person who sent it.',
	altered: 'This link was altered or is incomplete: nothing can be sent through it. Ask the person who sent it for the link again.',
	network: 'The server could not be reached. Check your connection and try again.',
	unknown: 'Something went wrong. Try again later, or ask the person who sent the link.',
};

const STATES = { expired: 'request_expired', revoked: 'request_revoked', full: 'request_full' };

class Refusal extends Error {
	constructor(kind, retryAfter) {
		super(kind);
		this.kind = kind;
		this.retryAfter = retryAfter;
	}
}

function setState(state) { document.documentElement.dataset.requestState = state; }

function show(id, on) { $(id).hidden = !on; }

function status(text) { $('status').textContent = text; }

function refuse(kind, retryAfter) {
	let text = MESSAGES[kind] || MESSAGES.unknown;
	if (kind === 'code_limit' && retryAfter > 0) {
		const min = Math.ceil(retryAfter / 60);
		text = `Too many codes were asked for or tried. Wait ${min} minute${min === 1 ? '' : 's'}, then try again.`;
	}
	$('error').textContent = text;
	show('error', true);
	status('');
	document.documentElement.dataset.requestError = MESSAGES[kind] ? kind : 'unknown';
	setState('refused');
}

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
		kind = body.code || '';
	} catch {
		// not JSON: the status decides
	}
	if (!MESSAGES[kind]) {
		kind = { 404: 'not_found', 413: 'too_large', 429: 'code_limit' }[res.status] || 'unknown';
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

function hex(buf) {
	return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

// A drop object is the file plus its header, key, metadata and a tag per
// 1 MiB segment: what the limits count.
const overhead = (size) => 16 + 32 + 528 + 16 * Math.max(Math.ceil(size / (1 << 20)), 1);

// send seals and uploads the picked files one by one. Every check that
// can be made before anything leaves is made first, for all of them.
async function send(base, key, grant, info, files) {
	if (files.length === 0) return;
	if (files.length > info.max_files - info.files) throw new Refusal('too_many');
	let total = 0;
	for (const f of files) {
		try {
			checkName(f.name);
		} catch {
			throw new Refusal('bad_name');
		}
		if (overhead(f.size) + f.size > info.max_file_bytes) throw new Refusal('too_large');
		total += overhead(f.size) + f.size;
	}
	if (info.bytes + total > info.max_bytes) throw new Refusal('too_large');
	for (const f of files) {
		status(`Encrypting ${f.name}…`);
		const sealed = await sealDrop(key, f);
		const sum = hex(await crypto.subtle.digest('SHA-256', await sealed.arrayBuffer()));
		status(`Sending ${f.name} (${formatSize(f.size)})…`);
		const up = await (await call(`${base}/drops`, {
			method: 'POST',
			headers: { Authorization: `Grant ${grant}`, 'Content-Type': 'application/octet-stream', 'X-Mattersync-Checksum-Sha256': sum },
			body: sealed,
		})).json();
		info.files = up.files;
		info.bytes = up.bytes;
		const li = document.createElement('li');
		li.textContent = `${f.name} (${formatSize(f.size)}) sent`;
		$('sent').append(li);
	}
	status(`Sent. This link takes ${info.max_files - info.files} more file${info.max_files - info.files === 1 ? '' : 's'}.`);
	setState('done');
}

async function main() {
	const m = /^\/r\/([A-Za-z0-9_-]{1,128})$/.exec(location.pathname);
	if (!m) return refuse('not_found');
	const base = `/r/${m[1]}`;
	let key;
	try {
		key = parseRequestKey(location.hash);
	} catch {
		// Nothing is asked of the server for a link whose key is missing
		// or malformed: the page refuses to seal to a non-key.
		return refuse('altered');
	}
	const info = await (await call(`${base}/info`)).json();
	if (info.state !== 'ok') return refuse(STATES[info.state] || 'unknown');
	$('requester').textContent = info.requester || '';
	$('hint').textContent = info.recipient_hint || '';
	$('expires').textContent = formatTime(info.expires);
	$('maxfiles').textContent = String(info.max_files - info.files);
	$('maxsize').textContent = formatSize(info.max_file_bytes);
	status('');
	show('ask', true);
	setState('ask');
	let grant = '';

	$('send').addEventListener('click', () => guard(async () => {
		$('send').disabled = true;
		status('Sending the code…');
		await call(`${base}/code`, { method: 'POST' });
		status('A code is on its way. It is valid for 10 minutes and works once.');
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
			delete document.documentElement.dataset.requestError;
			$('check').disabled = true;
			status('Checking the code…');
			const v = await (await call(`${base}/verify`, {
				method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }),
			})).json();
			grant = v.grant;
			show('ask', false);
			show('verify', false);
			show('upload', true);
			status('Pick the files to send.');
			setState('upload');
		});
	});
	$('upload').addEventListener('submit', (ev) => {
		ev.preventDefault();
		guard(async () => {
			show('error', false);
			delete document.documentElement.dataset.requestError;
			$('go').disabled = true;
			setState('sending');
			await send(base, key, grant, info, Array.from($('files').files));
			$('go').disabled = false;
			$('files').value = '';
		});
	});
}

async function guard(step) {
	try {
		await step();
	} catch (e) {
		const kind = e instanceof Refusal ? e.kind : 'unknown';
		if (kind === 'code_wrong') {
			$('check').disabled = false;
			$('code').value = '';
		} else if (['too_many', 'too_large', 'bad_name'].includes(kind)) {
			$('go').disabled = false; // pick again
		} else {
			show('ask', false);
			show('verify', false);
			show('upload', false);
		}
		refuse(kind, e.retryAfter);
	}
}

guard(main);
