// Decoder of share objects (docs/FORMAT.md, appendix B), with WebCrypto: the
// recipient's page opens what a lawyer shared, segment by segment as it
// arrives. Errors are format.js's FormatError with the same kinds as Go's.
import { FormatError } from './format.js';

export const SHARE_KEY_SIZE = 32, SHARE_HEADER_SIZE = 16, SHARE_META_SIZE = 512, TAG_SIZE = 16;
const SALT = 'mattersync/share/v1';
const MAGIC = [0x6d, 0x73, 0x68, 0x72]; // "mshr"

function fail(kind, detail) { return new FormatError(kind, detail); }
const enc = (s) => new TextEncoder().encode(s);

// parseShareKey reads a link's fragment (base64url, no padding) as a share key.
export function parseShareKey(fragment) {
	const s = fragment.replace(/^#/, '');
	if (!/^[A-Za-z0-9_-]{43}$/.test(s)) throw fail('bad key', 'share link fragment');
	const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '=');
	const k = Uint8Array.from(bin, (c) => c.charCodeAt(0));
	if (k.length !== SHARE_KEY_SIZE) throw fail('bad key', 'share link fragment');
	return k;
}

async function shareKeys(key) {
	const ikm = await crypto.subtle.importKey('raw', key, 'HKDF', false, ['deriveKey']);
	const derive = (label) => crypto.subtle.deriveKey(
		{ name: 'HKDF', hash: 'SHA-256', salt: enc(SALT), info: enc(SALT + ' ' + label) },
		ikm, { name: 'AES-GCM', length: 256 }, false, ['decrypt']);
	return { meta: await derive('meta'), data: await derive('data') };
}

function nonce(i, last) {
	const n = new Uint8Array(12);
	new DataView(n.buffer).setBigUint64(3, BigInt(i));
	n[11] = last ? 1 : 0;
	return n;
}

async function open(key, iv, sealed, aad, what) {
	try {
		return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad, tagLength: 128 }, key, sealed));
	} catch {
		throw fail('auth failure', what);
	}
}

// ShareReader opens a share object from a stream of byte arrays (a fetch
// body's reader): first meta() (name and size), then segments() yields the
// file's bytes segment by segment. A caller must discard what it kept if a
// later segment throws: nothing is whole until segments() ends.
export class ShareReader {
	constructor(key, reader) {
		this.key = key;
		this.reader = reader;
		// What arrived and is not taken yet: chunks as the stream gave them
		// (the first from off on), so each byte is copied once, when taken,
		// however small the stream's chunks are beside a segment.
		this.chunks = [];
		this.off = 0;
		this.buffered = 0;
		this.done = false;
	}

	// need reads until n bytes are buffered (false: the stream ended first).
	async need(n) {
		while (this.buffered < n && !this.done) {
			const { value, done } = await this.reader.read();
			if (done) { this.done = true; break; }
			if (value.length) {
				this.chunks.push(value);
				this.buffered += value.length;
			}
		}
		return this.buffered >= n;
	}

	// take returns the next n buffered bytes (n ≤ what need made sure of).
	take(n) {
		const out = new Uint8Array(n);
		let got = 0;
		while (got < n) {
			const c = this.chunks[0];
			const k = Math.min(c.length - this.off, n - got);
			out.set(c.subarray(this.off, this.off + k), got);
			got += k;
			this.off += k;
			if (this.off === c.length) {
				this.chunks.shift();
				this.off = 0;
			}
		}
		this.buffered -= n;
		return out;
	}

	async meta() {
		if (!(await this.need(SHARE_HEADER_SIZE))) throw fail('truncated', 'share header');
		const h = this.take(SHARE_HEADER_SIZE);
		if (!MAGIC.every((b, i) => h[i] === b)) throw fail('bad header', 'share header');
		if (h[4] !== 1) throw fail('unsupported version', 'share header');
		const dv = new DataView(h.buffer);
		const seg = dv.getUint32(8);
		if (h[5] | h[6] | h[7] || seg === 0 || seg > 16 << 20 || dv.getUint32(12) !== SHARE_META_SIZE + TAG_SIZE) {
			throw fail('bad header', 'share header');
		}
		this.header = h;
		this.seg = seg;
		this.keys = await shareKeys(this.key);
		if (!(await this.need(SHARE_META_SIZE + TAG_SIZE))) throw fail('truncated', 'share metadata');
		const mp = await open(this.keys.meta, new Uint8Array(12), this.take(SHARE_META_SIZE + TAG_SIZE), h, 'share metadata');
		const n = new DataView(mp.buffer).getUint16(0);
		let m;
		try {
			m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(mp.subarray(2, 2 + n)));
		} catch {
			throw fail('malformed', 'share metadata');
		}
		if (n > SHARE_META_SIZE - 2 || typeof m.name !== 'string' || !m.name || /[/\\\0]/.test(m.name) || m.name === '.' || m.name === '..' ||
			!Number.isSafeInteger(m.size) || m.size < 0) {
			throw fail('malformed', 'share metadata');
		}
		this.info = { name: m.name, size: m.size };
		return this.info;
	}

	async *segments() {
		const { size } = this.info;
		const count = Math.max(Math.ceil(size / this.seg), 1);
		for (let i = 0; i < count; i++) {
			const last = i === count - 1;
			const n = Math.min(this.seg, size - i * this.seg) + TAG_SIZE;
			if (!(await this.need(n))) throw fail('truncated', `share segment ${i}`);
			const p = await open(this.keys.data, nonce(i, last), this.take(n), this.header, `share segment ${i}`);
			if (last && (await this.need(1))) throw fail('bad header', 'bytes after the last share segment');
			yield p;
		}
	}
}

// openShare opens a whole share object held in memory: {name, size, data}.
export async function openShare(key, bytes) {
	let given = false;
	const r = new ShareReader(key, { read: async () => (given ? { done: true } : ((given = true), { value: bytes, done: false })) });
	const info = await r.meta();
	const parts = [];
	for await (const p of r.segments()) parts.push(p);
	const data = new Uint8Array(info.size);
	let off = 0;
	for (const p of parts) { data.set(p, off); off += p.length; }
	return { ...info, data };
}
