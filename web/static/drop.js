// Sealer of drop objects (docs/FORMAT.md, appendix C), with WebCrypto: a
// client's browser seals each file it uploads through a request link to
// the request's X25519 public key, read from the link's fragment, so only
// the matter's members can open it. The layout is a share object's
// (share.js), with its own magic and the ephemeral public key after the
// header.
import { FormatError } from './format.js';
import { SHARE_HEADER_SIZE, SHARE_META_SIZE, TAG_SIZE } from './share.js';

export const REQUEST_KEY_SIZE = 32, DROP_SEGMENT_SIZE = 1 << 20, DROP_MAX_NAME = 400;
const SALT = 'mattersync/drop/v1';
const MAGIC = [0x6d, 0x64, 0x72, 0x70]; // "mdrp"

const enc = (s) => new TextEncoder().encode(s);

// parseRequestKey reads a request link's fragment (base64url, no padding)
// as the request's X25519 public key.
export function parseRequestKey(fragment) {
	const s = fragment.replace(/^#/, '');
	if (!/^[A-Za-z0-9_-]{43}$/.test(s)) throw new FormatError('bad key', 'request link fragment');
	const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '=');
	return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

// checkName applies the format's rule for the name a drop carries (a base
// name of 1-400 bytes of UTF-8): the page says so before sealing.
export function checkName(name) {
	const n = enc(name).length;
	if (!name || n > DROP_MAX_NAME || /[/\\\0]/.test(name) || name === '.' || name === '..') {
		throw new FormatError('malformed', 'file name: want 1 to 400 bytes, no / \\ or NUL');
	}
}

function nonce(i, last) {
	const n = new Uint8Array(12);
	new DataView(n.buffer).setBigUint64(3, BigInt(i));
	n[11] = last ? 1 : 0;
	return n;
}

// ephemeralKey makes the upload's one-time X25519 key pair; a test passes
// a fixed private key (JWK) to reproduce the format's vector.
async function ephemeralKey(fixed) {
	if (fixed) {
		const priv = await crypto.subtle.importKey('jwk', fixed, { name: 'X25519' }, false, ['deriveBits']);
		const x = fixed.x.replace(/-/g, '+').replace(/_/g, '/') + '=';
		return { priv, pub: Uint8Array.from(atob(x), (c) => c.charCodeAt(0)) };
	}
	const kp = await crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']);
	return { priv: kp.privateKey, pub: new Uint8Array(await crypto.subtle.exportKey('raw', kp.publicKey)) };
}

async function dropKeys(reqPub, eph) {
	const pub = await crypto.subtle.importKey('raw', reqPub, { name: 'X25519' }, false, []);
	let shared;
	try {
		shared = new Uint8Array(await crypto.subtle.deriveBits({ name: 'X25519', public: pub }, eph.priv, 256));
	} catch {
		throw new FormatError('bad key', 'request public key');
	}
	const ikm = new Uint8Array(3 * REQUEST_KEY_SIZE);
	ikm.set(shared); ikm.set(eph.pub, REQUEST_KEY_SIZE); ikm.set(reqPub, 2 * REQUEST_KEY_SIZE);
	const base = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveKey']);
	const derive = (label) => crypto.subtle.deriveKey(
		{ name: 'HKDF', hash: 'SHA-256', salt: enc(SALT), info: enc(SALT + ' ' + label) },
		base, { name: 'AES-GCM', length: 256 }, false, ['encrypt']);
	return { meta: await derive('meta'), data: await derive('data') };
}

// sealDrop seals file (a Blob with a name, as an <input type=file> gives)
// to the request public key and returns the drop object as a Blob, built
// segment by segment (the browser may keep a large Blob on disk).
// opts.segmentSize and opts.ephemeral (a JWK) are for the format's vector.
export async function sealDrop(reqPub, file, opts = {}) {
	const seg = opts.segmentSize || DROP_SEGMENT_SIZE;
	const name = opts.name ?? file.name;
	checkName(name);
	const eph = await ephemeralKey(opts.ephemeral);
	const keys = await dropKeys(reqPub, eph);
	const prefix = new Uint8Array(SHARE_HEADER_SIZE + REQUEST_KEY_SIZE);
	prefix.set(MAGIC);
	prefix[4] = 1;
	const dv = new DataView(prefix.buffer);
	dv.setUint32(8, seg);
	dv.setUint32(12, SHARE_META_SIZE + TAG_SIZE);
	prefix.set(eph.pub, SHARE_HEADER_SIZE);
	const js = enc(JSON.stringify({ name, size: file.size }));
	const mp = new Uint8Array(SHARE_META_SIZE);
	new DataView(mp.buffer).setUint16(0, js.length);
	mp.set(js, 2);
	const seal = async (key, iv, data) => new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: prefix, tagLength: 128 }, key, data));
	const parts = [prefix, await seal(keys.meta, new Uint8Array(12), mp)];
	const count = Math.max(Math.ceil(file.size / seg), 1);
	for (let i = 0; i < count; i++) {
		const plain = new Uint8Array(await file.slice(i * seg, Math.min((i + 1) * seg, file.size)).arrayBuffer());
		parts.push(await seal(keys.data, nonce(i, i === count - 1), plain));
		if (opts.progress) opts.progress((i + 1) / count);
	}
	return new Blob(parts, { type: 'application/octet-stream' });
}
