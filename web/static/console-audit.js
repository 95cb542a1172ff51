// The Audit page: search the gateway's audit log (GET /v1/admin/audit, the
// route mattersync-admin audit export uses) by user, matter, action, result
// and time; the records as a table, text only; export what is shown as CSV
// or JSON lines, built in this page from the gateway's answer; verify the
// chain (POST /v1/admin/audit/verify) with its progress.
import { el, when, verifyReport } from './console-pages.js';

// PAGE is how many records one search asks for; MAX_SHOWN bounds what the
// page holds (More pages on with after_seq until then).
const PAGE = 500;
const MAX_SHOWN = 10000;

const RESULTS = ['ok', 'denied', 'invalid', 'conflict', 'legal_hold', 'error'];

// The columns of mattersync-admin audit export --format csv (admin/audit.go),
// so a file from the page and one from the CLI line up.
const CSV_COLUMNS = ['seq', 'time', 'entity', 'user', 'device', 'source', 'matter', 'action', 'object', 'result', 'status', 'bytes', 'request_id', 'prev_hash', 'hash'];

// A cell starting with = + - @ or a tab or CR gets a leading apostrophe, as
// in the CLI's CSV (admin/csvout.go): a spreadsheet shows a user name such
// as =HYPERLINK(...) as text instead of running it.
function csvCell(v) {
	let s = v === undefined || v === null ? '' : String(v);
	if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
	return /[",\r\n]/.test(s) || s.startsWith(' ') ? '"' + s.replaceAll('"', '""') + '"' : s;
}

export function toCSV(recs) {
	const lines = [CSV_COLUMNS.join(',')];
	for (const { rec } of recs) lines.push(CSV_COLUMNS.map((c) => csvCell(rec[c])).join(','));
	return lines.join('\r\n') + '\r\n';
}

export function toJSONLines(recs) {
	return recs.map(({ line }) => line + '\n').join('');
}

// save hands text to the browser as a download: a Blob URL on a link with
// a download name, never a navigation of this page (it would lose the
// sign-in, which lives in memory only).
function save(text, type, name) {
	const url = URL.createObjectURL(new Blob([text], { type }));
	const a = el('a', { href: url, download: name, hidden: true });
	document.body.append(a);
	a.click();
	a.remove();
	setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function field(id, label, input) {
	return el('label', { for: id, class: 'field' }, el('span', {}, label), input);
}

// localTime turns a datetime-local value (the browser's time zone) into
// RFC 3339 UTC for the gateway.
function localTime(v) {
	if (!v) return '';
	const d = new Date(v);
	return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

// auditPage builds the page; api is console-api.js's API, screened the
// matters the signed-in admin is walled off from (the gateway then wants
// one matter per search).
export function auditPage(api, screened = []) {
	const input = (id, attrs = {}) => el('input', { id, name: id, autocomplete: 'off', ...attrs });
	const user = input('audit-user', { maxlength: '256', placeholder: 'user name' });
	const matter = input('audit-matter', { maxlength: '64', placeholder: 'matter ID' });
	const action = input('audit-action', { maxlength: '1024', placeholder: 'file.commit, admin.console.signin…' });
	const result = el('select', { id: 'audit-result', name: 'audit-result' }, el('option', { value: '' }, 'any'), RESULTS.map((r) => el('option', { value: r }, r)));
	const since = input('audit-since', { type: 'datetime-local', step: '1' });
	const until = input('audit-until', { type: 'datetime-local', step: '1' });
	const search = el('button', { type: 'submit', id: 'audit-search-go' }, 'Search');
	const form = el('form', { id: 'audit-search' },
		field('audit-user', 'User', user), field('audit-matter', 'Matter', matter), field('audit-action', 'Action', action),
		field('audit-result', 'Result', result), field('audit-since', 'From (your time)', since), field('audit-until', 'Until (excluded)', until),
		search);

	const count = el('p', { id: 'audit-count', class: 'note' }, 'Search the audit log: every field may be left empty.');
	const tbody = el('tbody', {});
	const head = el('tr', {}, ...['Seq', 'Time', 'User', 'Device', 'Source', 'Matter', 'Action', 'Object', 'Result', 'Status', 'Bytes'].map((h) => el('th', { scope: 'col' }, h)));
	const table = el('table', { class: 'grid', id: 'audit-results', hidden: true }, el('thead', {}, head), tbody);
	const more = el('button', { type: 'button', id: 'audit-more', hidden: true }, `Next ${PAGE}`);
	const csv = el('button', { type: 'button', id: 'audit-export-csv', disabled: true }, 'Export CSV');
	const jsonl = el('button', { type: 'button', id: 'audit-export-jsonl', disabled: true }, 'Export JSON lines');

	let shown = [];
	let query = null;

	const row = ({ rec }) => el('tr', { class: 'audit-row result-' + (RESULTS.includes(rec.result) ? rec.result : 'other'), 'data-seq': rec.seq },
		el('td', {}, rec.seq), el('td', { class: 'time' }, when(rec.time)),
		el('td', { class: 'user', title: rec.entity || undefined }, rec.user), el('td', { class: 'device' }, rec.device), el('td', {}, rec.source),
		el('td', { class: 'matter' }, rec.matter), el('td', { class: 'action' }, rec.action), el('td', { class: 'object' }, rec.object),
		el('td', { class: 'result' }, rec.result), el('td', {}, rec.status), el('td', {}, rec.bytes));

	const describe = (full) => {
		const n = shown.length;
		let t = n === 0 ? 'No record matches.' : `${n} record${n === 1 ? '' : 's'}, oldest first (records ${shown[0].rec.seq} to ${shown[n - 1].rec.seq}).`;
		if (full && n >= MAX_SHOWN) t += ` The page shows at most ${MAX_SHOWN}: narrow the search, or export the rest with mattersync-admin audit export.`;
		else if (full) t += ' There may be more: Next pages on.';
		count.textContent = t + ' Exports hold what is shown.';
		count.className = 'note';
	};

	const run = async (append) => {
		search.disabled = true;
		more.disabled = true;
		count.textContent = append ? 'Loading the next records…' : 'Searching…';
		try {
			const q = { ...query, limit: PAGE };
			if (append && shown.length) q.after_seq = shown[shown.length - 1].rec.seq;
			const got = await api.auditSearch(q);
			if (!append) {
				shown = [];
				tbody.replaceChildren();
			}
			const room = got.slice(0, MAX_SHOWN - shown.length);
			shown = shown.concat(room);
			tbody.append(...room.map(row));
			const full = got.length >= PAGE;
			table.hidden = shown.length === 0;
			more.hidden = !full || shown.length >= MAX_SHOWN;
			csv.disabled = jsonl.disabled = shown.length === 0;
			describe(full);
		} catch (e) {
			count.textContent = 'The gateway refused the search: ' + e.message + (e.requestID ? ` (request ${e.requestID})` : '');
			count.className = 'error';
		} finally {
			search.disabled = false;
			more.disabled = false;
		}
	};

	form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		const s = localTime(since.value), u = localTime(until.value);
		if (s === null || u === null) {
			count.textContent = 'The times are not valid.';
			count.className = 'error';
			return;
		}
		const actions = action.value.split(',').map((a) => a.trim()).filter(Boolean).join(',');
		query = { user: user.value.trim(), matter: matter.value.trim(), action: actions, result: result.value, since: s, until: u };
		run(false);
	});
	more.addEventListener('click', () => run(true));
	const stamp = () => new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d+Z$/, 'Z');
	csv.addEventListener('click', () => save(toCSV(shown), 'text/csv;charset=utf-8', `mattersync-audit-${stamp()}.csv`));
	jsonl.addEventListener('click', () => save(toJSONLines(shown), 'application/x-ndjson', `mattersync-audit-${stamp()}.jsonl`));

	return el('section', { id: 'page-audit' },
		el('h2', {}, 'Audit'),
		screened.length ? el('p', { class: 'warning' }, `You are screened from ${screened.join(', ')}: the gateway answers searches of one other matter at a time.`) : '',
		form, count, el('div', { class: 'actions' }, csv, jsonl), table, more,
		verifySection(api));
}

// verifySection: the gateway verifies the whole chain and its checkpoints
// in one call and answers once, so the progress shown is the time it has
// taken so far (an indeterminate bar), then the report.
function verifySection(api) {
	const out = el('div', { id: 'audit-verify-result' }, el('p', {}, 'Not verified from this page yet.'));
	const button = el('button', { type: 'button', id: 'audit-verify' }, 'Verify the chain');
	button.addEventListener('click', async () => {
		button.disabled = true;
		const started = Date.now();
		const bar = el('progress', { id: 'audit-verify-progress' });
		const elapsed = el('span', { id: 'audit-verify-elapsed' }, '0 s');
		out.replaceChildren(el('p', {}, 'Verifying every record\'s link and every signed checkpoint on the gateway (large logs take minutes)… ', bar, ' ', elapsed));
		const tick = setInterval(() => { elapsed.textContent = `${Math.round((Date.now() - started) / 1000)} s`; }, 500);
		try {
			const r = await api.verifyAudit();
			out.replaceChildren(verifyReport(r), el('p', { class: 'note' }, `Took ${((Date.now() - started) / 1000).toFixed(1)} s.`));
		} catch (e) {
			out.replaceChildren(el('p', { class: 'error' }, 'Verification failed: ' + e.message));
		} finally {
			clearInterval(tick);
			button.disabled = false;
		}
	});
	return el('section', { id: 'audit-verify-section' }, el('h3', {}, 'The chain'), out, button);
}
