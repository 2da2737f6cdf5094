// The status page's script: fetches /status.json from this node with the API key the operator typed
// (kept in this tab's session storage), renders each section with DOM calls only (textContent, never
// HTML strings: peer-supplied text such as error details cannot become markup), and refreshes itself
// every `?refresh=` seconds (default 10), without overlapping requests.

const KEY_STORAGE = 'tessera.status.key';
const DEFAULT_REFRESH_S = 10;

const params = new URLSearchParams(location.search);
const refreshSeconds = clamp(Number(params.get('refresh')) || DEFAULT_REFRESH_S, 1, 3600);
const dataUrl = new URL('status.json', location.href);

// The node says in the page whether it asks for keys: without a key there is then nothing to fetch (a
// request without one would only count as a failed authentication).
const authRequired = document.body.dataset.auth !== 'none';

let timer;
let lastGood = null;

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') node.className = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const $ = (id) => document.getElementById(id);

function storedKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

function storeKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage refused (a private window): the key lives until the page is closed.
  }
  memoryKey = key;
}

let memoryKey = storedKey();

/** "3 d 4 h", "12 min", "40 s": the two largest units of a duration in seconds. */
function duration(seconds) {
  const s = Math.abs(Math.round(seconds));
  const units = [
    ['d', 86400],
    ['h', 3600],
    ['min', 60],
    ['s', 1],
  ];
  const parts = [];
  let rest = s;
  for (const [name, size] of units) {
    if (rest >= size || (parts.length === 0 && size === 1)) {
      parts.push(`${Math.floor(rest / size)} ${name}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

function relative(iso, nowMs) {
  if (!iso) return 'never';
  const seconds = (Date.parse(iso) - nowMs) / 1000;
  return seconds >= 0 ? `in ${duration(seconds)}` : `${duration(seconds)} ago`;
}

function when(iso, nowMs) {
  if (!iso) return 'never';
  return `${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')} (${relative(iso, nowMs)})`;
}

function badge(text, level) {
  return el('span', { class: `badge ${level}` }, text.replaceAll('_', ' '));
}

function list(rows) {
  return el(
    'dl',
    {},
    rows
      .filter(Boolean)
      .flatMap(([term, value, field]) => [
        el('dt', {}, term),
        el('dd', field ? { 'data-field': field } : {}, value),
      ]),
  );
}

function fill(id, ...content) {
  $(id)
    .querySelector('.body')
    .replaceChildren(...content);
}

function renderNode(node, nowMs) {
  const cert = node.certificate;
  fill(
    'node',
    list([
      ['Entity URI', el('span', { class: 'mono' }, node.entity_uri)],
      node.federation_url && ['Federation URL', el('span', { class: 'mono' }, node.federation_url)],
      ['Federation', node.federation === 'mtls' ? 'mutual TLS' : node.federation],
      ['API TLS', node.api_tls],
      ['Node key', el('span', { class: 'mono' }, `${node.node_key.key_id} · ${node.node_key.fingerprint}`)],
      ['Running since', when(node.started_at, nowMs)],
      cert && ['Certificate', el('span', { class: 'mono' }, cert.subject)],
      cert && ['Issued by', el('span', { class: 'mono' }, cert.issuer)],
      cert && [
        'Valid until',
        el('span', {}, when(cert.not_after, nowMs), ' ', cert.level ? badge(cert.level, cert.level) : null),
        'certificate-expiry',
      ],
      cert && [
        'Names',
        el('span', { class: 'mono' }, [...cert.uris, ...cert.dns_names, ...cert.ips].join(', ')),
      ],
      cert && ['SPKI SHA-256', el('span', { class: 'mono' }, cert.spki_sha256)],
      !cert && ['Certificate', 'none (no TLS material on this node)'],
    ]),
  );
}

function renderPeer(peer, nowMs) {
  const lag =
    peer.lag_seconds === null
      ? 'not caught up yet'
      : `${duration(peer.lag_seconds)} · ${
          peer.facts_behind === null
            ? 'facts behind unknown'
            : `${peer.facts_behind >= 10000 ? '≥ 10000' : peer.facts_behind} facts behind`
        }`;
  const error = peer.last_error
    ? el(
        'span',
        {},
        el('strong', {}, peer.last_error.reason),
        ` ${relative(peer.last_error.at, nowMs)}: `,
        peer.last_error.detail,
      )
    : 'none';
  const backoff = peer.backoff
    ? `${peer.backoff.failures} failed pulls in a row; next pull ${relative(peer.backoff.next_pull_at, nowMs)}`
    : null;
  const cert = peer.certificate;
  return el(
    'article',
    { class: 'peer', 'data-peer': peer.entity_uri, 'data-state': peer.state },
    el(
      'div',
      { class: 'peer-head' },
      el('h3', { class: 'mono' }, peer.entity_uri),
      badge(peer.state, peer.state),
    ),
    list([
      ['Federation URL', el('span', { class: 'mono' }, peer.federation_url)],
      ['Last good pull', when(peer.last_success_at, nowMs), 'last-success'],
      peer.status === 'approved' && ['Lag', lag, 'lag'],
      peer.status === 'approved' && ['Rate', `${peer.facts_per_minute.toFixed(1)} facts/min`, 'rate'],
      peer.degraded && ['Degraded', peer.degraded, 'degraded'],
      backoff && ['Backoff', backoff, 'backoff'],
      !backoff && peer.next_pull_at && ['Next pull', relative(peer.next_pull_at, nowMs)],
      ['Clock', clock(peer.clock, nowMs), 'clock'],
      ['Last error', error, 'last-error'],
      [
        'Certificate',
        cert
          ? el('span', {}, `until ${when(cert.not_after, nowMs)} `, badge(cert.level, cert.level))
          : 'not seen yet',
        'certificate',
      ],
    ]),
  );
}

/** "2.1 s ahead (± 0.5 s, HTTP Date 3 s ago)", with its level when it is not ok. */
function clock(reading, nowMs) {
  if (!reading) return 'not measured yet';
  const skew = reading.skew_seconds;
  const side = skew > 0 ? 'ahead' : skew < 0 ? 'behind' : 'in step';
  const source = reading.source === 'http_date' ? 'HTTP Date' : 'token iat';
  return el(
    'span',
    {},
    `${Math.abs(skew).toFixed(1)} s ${side} (± ${reading.uncertainty_seconds.toFixed(1)} s, ${source} ${relative(reading.at, nowMs)}) `,
    reading.level === 'ok' ? null : badge(reading.level, reading.level),
  );
}

function renderPeers(peers, nowMs) {
  if (peers.length === 0) {
    fill('peers', el('p', { class: 'muted' }, 'No peers yet (tessera peers add <federation-url>).'));
    return;
  }
  fill('peers', ...peers.map((peer) => renderPeer(peer, nowMs)));
}

function renderReplication(replication) {
  fill(
    'replication',
    list([
      ['Facts in from peers', `${replication.replicated_per_minute.toFixed(1)} /min`, 'replicated-rate'],
      ['Facts written here', `${replication.written_per_minute.toFixed(1)} /min`, 'written-rate'],
      ['Over', `the last ${duration(replication.window_seconds)}`],
    ]),
  );
}

/** Where on the bar a number of seconds falls, 0–100 %. */
function position(seconds, horizon) {
  return `${clamp((seconds / horizon) * 100, 0, 100).toFixed(1)}%`;
}

function renderCertificates(certs, nowMs) {
  if (!certs.tls) {
    fill('certificates', el('p', { class: 'muted' }, 'This node runs without TLS material.'));
    return;
  }
  // The bar spans twice the warning window (at least 30 days): the windows' marks sit inside it.
  const horizon = Math.max(certs.warning_seconds * 2, 30 * 86400);
  const items = certs.entries.map((entry) => {
    const bar = el('div', { class: 'bar', 'aria-hidden': 'true' });
    const width = el('div', { class: 'fill' });
    width.style.width = position(Math.max(0, entry.seconds_left), horizon);
    const warning = el('div', { class: 'mark', title: 'warning window' });
    warning.style.left = position(certs.warning_seconds, horizon);
    const critical = el('div', { class: 'mark', title: 'critical window' });
    critical.style.left = position(certs.critical_seconds, horizon);
    bar.append(width, warning, critical);
    return el(
      'li',
      { class: entry.level, 'data-kind': entry.kind, 'data-name': entry.name, 'data-level': entry.level },
      el(
        'div',
        { class: 'what' },
        el('span', { class: 'name' }, entry.name),
        badge(entry.kind, 'info'),
        badge(entry.level, entry.level),
        el('span', { class: 'muted' }, when(entry.not_after, nowMs)),
      ),
      bar,
    );
  });
  fill(
    'certificates',
    el(
      'p',
      { class: 'muted' },
      `Warning inside ${duration(certs.warning_seconds)}, critical inside ${duration(certs.critical_seconds)}. `,
      certs.crls.length === 0
        ? 'No CRLs are loaded on this node.'
        : `${certs.crls.length} CRL${certs.crls.length === 1 ? '' : 's'} loaded (kind crl: due for renewal at the date shown).`,
    ),
    el('ol', { class: 'timeline' }, items),
  );
}

function renderRejections(rejections, nowMs) {
  const since = `Since ${when(rejections.since, nowMs)}: ${rejections.total} refused.`;
  if (rejections.rows.length === 0) {
    fill('rejections', el('p', { class: 'muted' }, since), el('p', {}, 'No rejections.'));
    return;
  }
  const rows = rejections.rows.map((row) =>
    el(
      'tr',
      { 'data-source': row.source, 'data-reason': row.reason },
      el('td', {}, row.source.replaceAll('_', ' ')),
      el('td', { class: 'mono' }, row.reason),
      el(
        'td',
        { class: 'mono' },
        Object.entries(row.labels)
          .map(([name, value]) => `${name}=${value}`)
          .join(' '),
      ),
      el('td', { class: 'count' }, row.count),
    ),
  );
  fill(
    'rejections',
    el('p', { class: 'muted' }, since),
    table(
      [
        el('th', {}, 'Where'),
        el('th', {}, 'Reason'),
        el('th', {}, 'Detail'),
        el('th', { class: 'count' }, 'Count'),
      ],
      rows,
    ),
  );
}

// A table that scrolls sideways on a narrow screen instead of widening the page.
function table(headers, rows) {
  return el(
    'div',
    { class: 'table-wrap' },
    el('table', {}, el('thead', {}, el('tr', {}, ...headers)), el('tbody', {}, rows)),
  );
}

function renderQuotas(quotas) {
  if (!quotas.enabled) {
    fill('quotas', el('p', { class: 'badge critical' }, 'Quotas are disabled on this node.'));
    return;
  }
  const threshold = `${Math.round(quotas.threshold * 100)} %`;
  if (quotas.near_ceiling.length === 0) {
    fill('quotas', el('p', {}, `No principal is under ${threshold} of a quota.`));
    return;
  }
  const rows = quotas.near_ceiling.map((q) =>
    el(
      'tr',
      { 'data-principal': q.principal, 'data-dimension': q.dimension },
      el('td', { class: 'mono' }, q.principal),
      el('td', {}, q.dimension),
      el('td', { class: 'count' }, `${q.remaining} / ${q.capacity}`),
    ),
  );
  fill(
    'quotas',
    el('p', { class: 'muted' }, `Buckets under ${threshold} of their capacity, emptiest first.`),
    table([el('th', {}, 'Principal'), el('th', {}, 'Dimension'), el('th', { class: 'count' }, 'Left')], rows),
  );
}

function render(status) {
  const nowMs = Date.parse(status.generated_at);
  $('node-name').textContent = status.node.entity_uri;
  renderNode(status.node, nowMs);
  renderPeers(status.peers, nowMs);
  renderReplication(status.replication);
  renderCertificates(status.certificates, nowMs);
  renderRejections(status.rejections, nowMs);
  renderQuotas(status.quotas);
  $('status').hidden = false;
  $('freshness').textContent =
    `Updated ${status.generated_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')} · refreshes every ${duration(refreshSeconds)}`;
  $('freshness').dataset.generatedAt = status.generated_at;
}

function showProblem(message) {
  const problem = $('problem');
  problem.hidden = !message;
  problem.textContent = message ?? '';
}

function askForKey(message) {
  $('key-form').hidden = false;
  $('status').hidden = true;
  $('forget-key').hidden = true;
  showProblem(message);
  $('key-input').focus();
}

async function refresh() {
  clearTimeout(timer);
  if (authRequired && !memoryKey) {
    askForKey(null);
    return;
  }
  let delay = refreshSeconds;
  let again = true;
  try {
    const headers = { accept: 'application/json' };
    if (memoryKey) headers.authorization = `Bearer ${memoryKey}`;
    const response = await fetch(dataUrl, { headers, cache: 'no-store', credentials: 'omit' });
    const body = await response.json().catch(() => null);
    // A refused key is not tried again and again: each try would count as a failed authentication.
    if (response.status === 401 || response.status === 403) {
      again = false;
      storeKey(null);
      askForKey(
        response.status === 403 ? 'That key lacks the read permission.' : 'That key was not accepted.',
      );
      return;
    }
    if (response.status === 429) {
      const retry = Number(response.headers.get('retry-after')) || refreshSeconds * 2;
      delay = Math.max(refreshSeconds, retry);
      showProblem(
        `Refused for now (${body?.error ?? 'too many requests'}); trying again in ${duration(delay)}.`,
      );
      return;
    }
    if (!response.ok || !body) {
      showProblem(`The node answered ${response.status}${body?.detail ? `: ${body.detail}` : ''}.`);
      return;
    }
    lastGood = body;
    $('key-form').hidden = true;
    $('forget-key').hidden = memoryKey === null;
    showProblem(null);
    render(body);
  } catch (error) {
    const age = lastGood ? ` Showing what it said at ${lastGood.generated_at}.` : '';
    showProblem(`Could not reach the node (${error.message}).${age}`);
  } finally {
    if (again) timer = setTimeout(refresh, delay * 1000);
  }
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const key = $('key-input').value.trim();
  $('key-input').value = '';
  if (!key) return;
  storeKey(key);
  void refresh();
});

$('forget-key').addEventListener('click', () => {
  storeKey(null);
  lastGood = null;
  clearTimeout(timer);
  $('status').hidden = true;
  askForKey(null);
});

void refresh();
