// The page of `stable-animator serve`: plain ES module, no build step. Uploads the inputs, queues a pose preview
// or an animation, follows it over server-sent events, shows the result and the job list.
const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get('token') ?? '';
const withToken = (url) => (token ? `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}` : url);

async function api(path, init = {}) {
  const headers = { ...(init.headers ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const res = await fetch(path, { ...init, headers });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message ?? `${res.status} ${res.statusText}`);
  return body;
}

function say(text, error = false) {
  $('message').textContent = text;
  $('message').className = error ? 'error' : '';
}

async function upload(file) {
  const form = new FormData();
  form.append('file', file, file.name);
  return api('/api/uploads', { method: 'POST', body: form });
}

async function loadConfig() {
  const config = await api('/api/config');
  const fill = (select, values, selected) => {
    select.replaceChildren(...values.map((v) => new Option(v, v, v === selected, v === selected)));
  };
  fill($('motion'), config.motions, config.motions[0]);
  fill($('weights'), config.weights, config.weights[0]);
  fill($('align'), config.options.align.enum, config.options.align.default);
  fill($('fit'), config.options.fit.enum, config.options.fit.default);
  for (const name of ['frames', 'fps', 'steps', 'guidance', 'seed']) {
    $(name).value = config.options[name].default ?? '';
    $(name).max = config.options[name].maximum;
  }
  $('hjb').checked = config.options.hjb.default;
  $('audio').checked = config.options.audio.default;
}

function options() {
  const o = { align: $('align').value, fit: $('fit').value, weights: $('weights').value, hjb: $('hjb').checked, audio: $('audio').checked };
  for (const name of ['width', 'height', 'frames', 'steps', 'seed']) if ($(name).value !== '') o[name] = parseInt($(name).value, 10);
  for (const name of ['fps', 'guidance']) if ($(name).value !== '') o[name] = parseFloat($(name).value);
  return o;
}

/** Uploads the chosen files once (kept while the same files stay chosen) and queues a job of `kind`. */
const uploaded = new Map();
async function submit(kind) {
  const photo = $('photo').files[0];
  if (!photo) return say('choose a reference photo first', true);
  const useUpload = document.querySelector('input[name="driving-kind"]:checked').value === 'upload';
  const drivingFile = $('driving').files[0];
  if (useUpload && !drivingFile) return say('choose a driving video or keypoint file, or pick a shipped motion', true);
  try {
    say('uploading…');
    const once = async (file) => {
      if (!uploaded.has(file)) uploaded.set(file, await upload(file));
      return uploaded.get(file);
    };
    const reference = (await once(photo)).id;
    const driving = useUpload ? { upload: (await once(drivingFile)).id } : { motion: $('motion').value };
    const job = await api(kind === 'preview' ? '/api/previews' : '/api/jobs', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reference, driving, options: options() }),
    });
    say(`${kind === 'preview' ? 'preview' : 'animation'} queued`);
    follow(job);
    refreshJobs();
  } catch (e) {
    say(e.message, true);
  }
}

let events;
function follow(job) {
  events?.close();
  $('current').hidden = false;
  $('current-id').textContent = job.id.slice(0, 8);
  $('preview').hidden = $('result').hidden = $('download').hidden = $('live').hidden = true;
  $('log').textContent = '';
  $('progress').value = 0;
  showStatus(job);
  events = new EventSource(withToken(`/api/jobs/${job.id}/events`));
  events.addEventListener('progress', (e) => showProgress(JSON.parse(e.data)));
  events.addEventListener('status', (e) => {
    const view = JSON.parse(e.data);
    showStatus(view);
    if (!['queued', 'running'].includes(view.status)) {
      events.close();
      refreshJobs();
    }
  });
}

function showProgress(p) {
  const parts = [p.stage];
  if (p.total) {
    parts.push(`step ${p.step}/${p.total}`);
    $('progress').value = p.step / p.total;
  }
  if (p.etaSeconds !== undefined) parts.push(`ETA ${Math.round(p.etaSeconds)} s`);
  parts.push(`${p.elapsedSeconds.toFixed(1)} s elapsed`);
  $('progress-text').textContent = parts.join(' · ');
  if (p.frame) {
    $('live').src = p.frame;
    $('live').hidden = false;
  }
}

function showStatus(view) {
  $('current-status').textContent = view.status;
  $('current-status').className = `status ${view.status}`;
  $('cancel-button').hidden = !['queued', 'running'].includes(view.status);
  $('cancel-button').onclick = () => api(`/api/jobs/${view.id}/cancel`, { method: 'POST' }).then(showStatus, (e) => say(e.message, true));
  if (view.progress) showProgress(view.progress);
  if (view.status === 'failed') $('progress-text').textContent = `failed: ${view.error}`;
  if (view.status === 'queued') $('progress-text').textContent = 'waiting for a worker';
  if (!['queued', 'running'].includes(view.status)) {
    api(`/api/jobs/${view.id}/logs`).then((l) => { $('log').textContent = l.logs.join('\n'); }, () => undefined);
  }
  if (view.status !== 'done' || !view.result) return;
  $('live').hidden = true;
  $('progress').value = 1;
  const url = withToken(`/api/jobs/${view.id}/result`);
  $('progress-text').textContent = `done in ${view.result.seconds.toFixed(1)} s: ${view.result.frames} frames at ${view.result.width}x${view.result.height} (alignment: ${view.result.alignment})`;
  if (view.kind === 'preview') {
    $('preview').src = url;
    $('preview').hidden = false;
  } else {
    $('result').src = url;
    $('result').hidden = false;
    $('download').href = withToken(`/api/jobs/${view.id}/result?download=1`);
    $('download').hidden = false;
  }
}

async function refreshJobs() {
  const jobs = await api('/api/jobs').catch(() => []);
  $('jobs').tBodies[0].replaceChildren(...jobs.map((j) => {
    const row = document.createElement('tr');
    const cells = [j.id.slice(0, 8), j.kind, `${j.inputs.reference} + ${j.inputs.driving}`];
    for (const text of cells) row.insertCell().textContent = text;
    const status = document.createElement('span');
    status.className = `status ${j.status}`;
    status.textContent = j.status + (j.status === 'running' && j.progress?.total ? ` ${j.progress.step}/${j.progress.total}` : '');
    row.insertCell().append(status);
    const open = document.createElement('button');
    open.textContent = 'show';
    open.onclick = () => follow(j);
    row.insertCell().append(open);
    return row;
  }));
}

$('photo').addEventListener('change', () => {
  const f = $('photo').files[0];
  if (f) $('photo-view').src = URL.createObjectURL(f);
});
$('driving').addEventListener('change', () => { document.querySelector('input[value="upload"]').checked = true; });
$('preview-button').addEventListener('click', () => submit('preview'));
$('job').addEventListener('submit', (e) => { e.preventDefault(); submit('animate'); });
loadConfig().catch((e) => say(`cannot reach the API: ${e.message}`, true));
refreshJobs();
setInterval(refreshJobs, 5000);
