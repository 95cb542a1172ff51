// The Matters page: the matters Vault knows (the KV mount's matters/ list
// and each one's title), the legal holds the gateway keeps, and for one
// matter its members by role from Vault's groups (matter-<id>-rw, -ro,
// -screened), read with the admin's own Vault sign-in, and its hold
// history from the gateway. Matters the admin is walled off from are
// listed, not opened. Text only, as every page (console-pages.js).
import { el } from './console-pages.js';

const MATTER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function when(t) {
	if (!t) return '—';
	const d = new Date(t);
	return Number.isNaN(d.getTime()) || d.getUTCFullYear() < 2000 ? '—' : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/Z$/, ' UTC');
}

// loadMatters lists the matters, with their titles.
export async function loadMatters(session, kv) {
	const listed = await session.vaultRead(`${kv}/metadata/matters`, { list: true });
	const keys = (listed && listed.data && Array.isArray(listed.data.keys)) ? listed.data.keys : [];
	const ids = keys.map((k) => String(k).replace(/\/$/, '')).filter((id) => MATTER_ID.test(id)).sort();
	return Promise.all(ids.map(async (id) => {
		const doc = await session.vaultRead(`${kv}/data/matters/${id}/meta`);
		const meta = (doc && doc.data && doc.data.data) || {};
		return { id, title: typeof meta.name === 'string' ? meta.name : '', shredded: meta.shredded || '' };
	}));
}

// members returns the matter's members by role: {rw, ro, screened}, each
// a list of {name, disabled}.
export async function members(session, matter) {
	const out = {};
	const names = new Map();
	for (const role of ['rw', 'ro', 'screened']) {
		const g = await session.vaultRead(`identity/group/name/matter-${matter}-${role}`);
		const ids = (g && g.data && Array.isArray(g.data.member_entity_ids)) ? g.data.member_entity_ids : [];
		out[role] = await Promise.all(ids.map(async (id) => {
			if (!names.has(id)) {
				const e = await session.vaultRead(`identity/entity/id/${encodeURIComponent(id)}`);
				names.set(id, { name: (e && e.data && e.data.name) || id, disabled: Boolean(e && e.data && e.data.disabled) });
			}
			return names.get(id);
		}));
		out[role].sort((a, b) => a.name.localeCompare(b.name));
	}
	return out;
}

// mattersPage lists the matters; open(id) shows one below the list.
export function mattersPage(matters, holds, screened, { open }) {
	const onHold = new Map(((holds && holds.holds) || []).map((h) => [h.matter, h]));
	const detail = el('div', { id: 'matter-detail' });
	const rows = matters.map((m) => {
		const walled = screened.includes(m.id);
		const h = onHold.get(m.id);
		const button = el('button', { type: 'button', 'data-matter': m.id, disabled: walled }, walled ? 'walled off' : 'Members and hold');
		button.addEventListener('click', async () => {
			detail.replaceChildren(el('p', { class: 'note' }, `Loading ${m.id}…`));
			try {
				detail.replaceChildren(await open(m.id, m.title));
			} catch (e) {
				detail.replaceChildren(el('p', { class: 'error' }, `Matter ${m.id}: ${e.message}`));
			}
		});
		return el('tr', { 'data-matter-row': m.id },
			el('td', { class: 'matter-id' }, m.id),
			el('td', { class: 'matter-title' }, m.title),
			el('td', {}, m.shredded ? 'shredded ' + m.shredded : h ? el('span', { class: 'flag flag-alert' }, 'LEGAL HOLD') : 'no hold'),
			el('td', {}, button));
	});
	const head = el('tr', {}, ...['Matter', 'Title', 'Hold', ''].map((x) => el('th', { scope: 'col' }, x)));
	return el('section', { id: 'page-matters' },
		el('h2', {}, 'Matters'),
		el('p', { class: 'note' }, `${matters.length} matter${matters.length === 1 ? '' : 's'} in Vault. Members come from Vault's groups; holds from the gateway.`),
		matters.length ? el('table', { class: 'grid' }, el('thead', {}, head), el('tbody', {}, rows)) : el('p', {}, 'No matter yet.'),
		detail);
}

// matterDetail shows one matter's members by role and hold history.
export function matterDetail(id, title, m, hold, history) {
	const list = (people) => people.length
		? el('ul', {}, people.map((p) => el('li', {}, p.name + (p.disabled ? ' (disabled: revoked)' : ''))))
		: el('p', { class: 'none' }, 'None.');
	const hs = (history && history.history) || [];
	return el('article', { class: 'card', id: 'matter-' + id },
		el('h3', {}, `${id} ${title ? '— ' + title : ''}`),
		el('div', { class: 'cards' },
			el('div', { class: 'role', 'data-role': 'rw' }, el('h4', {}, `Read and write (${m.rw.length})`), list(m.rw)),
			el('div', { class: 'role', 'data-role': 'ro' }, el('h4', {}, `Read only (${m.ro.length})`), list(m.ro)),
			el('div', { class: 'role', 'data-role': 'screened' }, el('h4', {}, `Screened, ethical wall (${m.screened.length})`), list(m.screened))),
		el('p', { id: 'matter-hold', class: hold && hold.on ? 'error' : 'note' },
			hold && hold.on ? `Legal hold since ${when(hold.time)} by ${hold.changed_by || '?'}: ${hold.reason || ''}${hold.case ? ' (' + hold.case + ')' : ''}` : 'No legal hold.'),
		hs.length ? el('details', {}, el('summary', {}, `Hold history (${hs.length})`),
			el('ul', {}, hs.map((h) => el('li', {}, `${when(h.time)}: ${h.on ? 'on' : 'off'} by ${h.changed_by || '?'}: ${h.reason || ''}`)))) : '');
}
