// The console's pages. Everything that comes from the gateway or Vault
// (user and host names, OS strings, reasons) goes into the page with
// textContent or as an attribute value through el(): never as markup, so a
// host named <img src=x onerror=...> is shown as those characters.

// el builds an element: attrs are set as properties-free attributes
// (strings only), children are nodes or strings (text nodes).
export function el(tag, attrs = {}, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs)) {
		if (v === undefined || v === null || v === false) continue;
		e.setAttribute(k, v === true ? '' : String(v));
	}
	for (const c of children.flat()) {
		if (c === undefined || c === null || c === false) continue;
		e.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return e;
}

const DAY = 24 * 3600 * 1000;

export function when(t) {
	if (!t) return '—';
	const d = new Date(t);
	if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 2000) return '—';
	return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/Z$/, ' UTC');
}

function ago(t, now) {
	if (!t) return '';
	const ms = now - new Date(t).getTime();
	if (!(ms >= 0)) return '';
	if (ms < 60_000) return 'just now';
	if (ms < 3600_000) return `${Math.floor(ms / 60_000)} min ago`;
	if (ms < DAY) return `${Math.floor(ms / 3600_000)} h ago`;
	return `${Math.floor(ms / DAY)} days ago`;
}

// revokedStillSeen mirrors api.Device.RevokedStillSeen.
export function revokedStillSeen(d) {
	return Boolean(d.revoked) && Boolean(d.revoked_seen) && new Date(d.revoked_seen) >= new Date(d.revoked);
}

function disk(d) {
	const de = d.disk_encryption || {};
	const state = de.state || 'unknown';
	const label = state === 'on' ? `on (${de.method || 'yes'})` : state === 'off' ? 'OFF' : 'unknown';
	return el('span', { class: 'disk-' + (['on', 'off'].includes(state) ? state : 'unknown'), title: de.detail || undefined }, label);
}

function wipe(d) {
	if (d.wiped) return 'wiped ' + when(d.wiped);
	if (d.revoked) return d.wipe_on_revoke ? 'wipe pending' : 'revoked, no wipe policy';
	return d.wipe_on_revoke ? 'wipes on revoke' : 'keeps files on revoke';
}

function status(d) {
	if (revokedStillSeen(d)) return el('span', { class: 'flag flag-alert' }, 'REVOKED — still seen ' + when(d.revoked_seen));
	if (d.revoked) return el('span', { class: 'flag flag-revoked' }, 'revoked ' + when(d.revoked));
	return el('span', { class: 'flag flag-ok' }, 'active');
}

// devicesPage: every device, by user, as GET /v1/admin/devices answers.
export function devicesPage(doc, now = Date.now()) {
	const devices = (doc && Array.isArray(doc.devices)) ? doc.devices : [];
	const rows = devices.map((d) => el('tr', {
		class: d.revoked ? (revokedStillSeen(d) ? 'device revoked still-seen' : 'device revoked') : 'device',
		'data-device': d.device_id,
	},
	el('td', { class: 'user' }, d.user || d.entity),
	el('td', { class: 'host' }, d.host),
	el('td', {}, d.os),
	el('td', {}, d.agent_version),
	el('td', { title: when(d.last_seen) }, ago(d.last_seen, now) || when(d.last_seen)),
	el('td', {}, when(d.last_sync)),
	el('td', {}, disk(d)),
	el('td', {}, wipe(d)),
	el('td', {}, status(d))));
	const head = el('tr', {}, ...['User', 'Host', 'OS', 'Agent', 'Last seen', 'Last sync', 'Disk encryption', 'Wipe', 'Status'].map((h) => el('th', { scope: 'col' }, h)));
	return el('section', { id: 'page-devices' },
		el('h2', {}, 'People and devices'),
		el('p', { class: 'note' }, `${devices.length} device${devices.length === 1 ? '' : 's'}` + (doc && doc.truncated ? ' (truncated: the gateway answers at most 10,000)' : '') + '.'),
		devices.length ? el('table', { class: 'grid' }, el('thead', {}, head), el('tbody', {}, rows)) : el('p', {}, 'No agent has reported a device yet.'));
}

// overviewPage: what the admin API answers without a long action, and
// the audit chain's verification on demand.
export function overviewPage({ devices, holds, staleDays = 14 }, { onVerify }, now = Date.now()) {
	const ds = (devices && devices.devices) || [];
	const still = ds.filter(revokedStillSeen);
	const stale = ds.filter((d) => !d.revoked && d.last_seen && now - new Date(d.last_seen).getTime() > staleDays * DAY);
	const unencrypted = ds.filter((d) => !d.revoked && d.disk_encryption && d.disk_encryption.state === 'off');
	const hs = (holds && holds.holds) || [];

	const list = (items, fmt) => items.length ? el('ul', {}, items.map((x) => el('li', {}, fmt(x)))) : el('p', { class: 'none' }, 'None.');
	const verifyOut = el('div', { id: 'verify-result' }, el('p', {}, 'Not verified in this session.'));
	const button = el('button', { type: 'button', id: 'verify' }, 'Verify the audit chain now');
	button.addEventListener('click', async () => {
		button.disabled = true;
		verifyOut.replaceChildren(el('p', {}, 'Verifying every record and checkpoint… (large logs take minutes)'));
		try {
			verifyOut.replaceChildren(verifyReport(await onVerify()));
		} catch (e) {
			verifyOut.replaceChildren(el('p', { class: 'error' }, 'Verification failed: ' + e.message));
		} finally {
			button.disabled = false;
		}
	});
	return el('section', { id: 'page-overview' },
		el('h2', {}, 'Overview'),
		el('div', { class: 'cards' },
			el('article', { class: still.length ? 'card alert' : 'card', id: 'revoked-still-seen' },
				el('h3', {}, `Devices of revoked users still seen: ${still.length}`),
				list(still, (d) => `${d.user} on ${d.host}: revoked ${when(d.revoked)}, last tried ${when(d.revoked_seen)}`)),
			el('article', { class: 'card', id: 'stale-agents' },
				el('h3', {}, `Agents not seen for ${staleDays} days: ${stale.length}`),
				list(stale, (d) => `${d.user} on ${d.host}: last seen ${when(d.last_seen)}`)),
			el('article', { class: unencrypted.length ? 'card alert' : 'card', id: 'unencrypted' },
				el('h3', {}, `Devices without disk encryption: ${unencrypted.length}`),
				list(unencrypted, (d) => `${d.user} on ${d.host} (${d.os})`)),
			el('article', { class: 'card', id: 'holds' },
				el('h3', {}, `Matters on legal hold: ${hs.length}`),
				list(hs, (h) => `${h.matter}: ${h.reason || ''}${h.case ? ' (' + h.case + ')' : ''}, since ${when(h.time)} by ${h.changed_by || '?'}`)),
			el('article', { class: 'card', id: 'audit' },
				el('h3', {}, 'Audit chain'),
				verifyOut, button)));
}

export function verifyReport(r) {
	const parts = [el('p', { class: r.ok ? 'ok' : 'error' }, r.ok ? `Intact: ${r.records} records, ${r.checkpoints} signed checkpoints.` : 'BROKEN: ' + (r.problem ? `record ${r.problem.seq}: ${r.problem.reason || r.problem.kind}` : 'see the problems below'))];
	parts.push(el('p', {}, (r.checkpoints ? `Last signed checkpoint: record ${r.last_checkpoint}, signed ${when(r.last_checkpoint_time)}.` : 'No signed checkpoint yet: the records are protected by their links alone.') + ` Verified ${when(Date.now())}.`));
	for (const p of (r.problems || []).slice(0, 20)) parts.push(el('p', { class: 'error' }, `${p.kind}: records ${p.seq}${p.to ? '..' + p.to : ''}: ${p.reason || ''}`));
	for (const w of (r.warnings || []).slice(0, 20)) parts.push(el('p', { class: 'warning' }, 'Warning: ' + w));
	return el('div', {}, parts);
}
