// Standard Yjs clients (yjs + y-websocket) against genloom's collaborative editing endpoint.
//
//   node yjs_editors.mjs '<json config>'
//
// config: {url: "ws://host/ws/articles", doc, tokens: [..], mode, edits, timeoutMs}
//   mode "edit":     one editor per token; after sync each inserts `edits` markers "[e<i>.<k>]" at random
//                    places, then waits until every editor's text holds all markers. Prints
//                    {converged, text, texts, ms, closes}. With `awareness`, each editor also announces
//                    {user: {name: "editor<i>"}, cursor} and waits until it sees every other editor's name
//                    (or, when `awareness` is a list, the names listed for it):
//                    adds {seen: [[names seen by editor i]...]}. `bigEdit`: editor 0 also inserts a marker of
//                    that many characters ("[big" … "]"), more than one relay message may carry.
//   mode "read":     one client syncs and prints {text, title}.
//   mode "join":     one client connects and prints the first close code (or {synced: true}); with
//                    `tryEdit` it then edits and reports whether the server's copy changed (via a 2nd client).
//   mode "latency":  one editor per token; editor 0 inserts `edits` markers one by one; every other editor
//                    notes when each arrives. Prints {samples: [ms...], converged}.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const cfg = JSON.parse(process.argv[2])
const timeoutMs = cfg.timeoutMs ?? 30000
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

let connected = 0
function connect (token, opts = {}) {
  const doc = new Y.Doc()
  const url = cfg.urls ? cfg.urls[connected++ % cfg.urls.length] : cfg.url  // editors spread over servers
  const provider = new WebsocketProvider(url, cfg.doc, doc, {
    params: { token }, WebSocketPolyfill: WebSocket, connect: true, disableBc: true, ...opts
  })
  const closes = []
  provider.on('connection-close', (event) => { closes.push(event ? event.code : null) })
  const synced = new Promise((resolve) => {
    if (provider.synced) resolve()
    provider.on('sync', (ok) => { if (ok) resolve() })
  })
  return { doc, provider, closes, synced, text: doc.getText('content'), meta: doc.getMap('meta') }
}

async function within (promise, ms, what) {
  let timer
  const t = new Promise((_r, reject) => { timer = setTimeout(() => reject(new Error('timeout: ' + what)), ms) })
  try { return await Promise.race([promise, t]) } finally { clearTimeout(timer) }
}

async function until (check, ms, what) {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('timeout: ' + what)
    await sleep(20)
  }
}

function out (value) { process.stdout.write(JSON.stringify(value) + '\n') }

async function main () {
  if (cfg.mode === 'read') {
    const c = connect(cfg.tokens[0])
    await within(c.synced, timeoutMs, 'sync')
    out({ text: c.text.toString(), title: c.meta.get('title') ?? null })
    c.provider.destroy()
    return
  }
  if (cfg.mode === 'hold') {
    // one editor: sync, announce itself, add a marker, stay `holdMs`, print the text it ends with
    const c = connect(cfg.tokens[0])
    await within(c.synced, timeoutMs, 'sync')
    c.provider.awareness.setLocalStateField('user', { name: cfg.name ?? 'editor', color: '#e91e63' })
    c.text.insert(c.text.length, ' [held]')
    process.stdout.write(JSON.stringify({ ready: true }) + '\n')
    await sleep(cfg.holdMs ?? 2000)
    out({ text: c.text.toString(), title: c.meta.get('title') ?? null })
    c.provider.destroy()
    return
  }
  if (cfg.mode === 'join') {
    const c = connect(cfg.tokens[0])
    const start = Date.now()
    while (Date.now() - start < timeoutMs && c.closes.length === 0 && !c.provider.synced) await sleep(20)
    if (c.closes.length) { c.provider.destroy(); out({ closed: c.closes[0] }); return }
    let changed = null
    if (cfg.tryEdit) {
      c.text.insert(0, 'READER-EDIT ')
      await sleep(800)
      const check = connect(cfg.tokens[1] ?? cfg.tokens[0])
      await within(check.synced, timeoutMs, 'check sync')
      changed = check.text.toString().includes('READER-EDIT')
      check.provider.destroy()
    }
    c.provider.destroy()
    out({ synced: true, changed })
    return
  }
  const editors = cfg.tokens.map((t) => connect(t))
  const t0 = Date.now()
  await within(Promise.all(editors.map((e) => e.synced)), timeoutMs, 'sync')
  if (cfg.mode === 'latency') {
    const [writer, ...readers] = editors
    const sentAt = []
    const samples = []
    // markers arrive in order: each reader only checks the next one it expects (cheap, so the clients'
    // own work stays small next to what is measured)
    readers.forEach((r) => {
      r.next = 0
      r.text.observe(() => {
        const s = r.text.toString()
        while (r.next < sentAt.length && s.includes(`[m${r.next}]`)) {
          samples.push(performance.now() - sentAt[r.next])
          r.next++
        }
      })
    })
    for (let k = 0; k < cfg.edits; k++) {
      sentAt.push(performance.now())
      writer.text.insert(writer.text.length, `[m${k}]`)
      await sleep(cfg.gapMs ?? 50)
    }
    await until(() => samples.length >= cfg.edits * readers.length, timeoutMs, 'latency delivery')
    const texts = editors.map((e) => e.text.toString())
    out({ samples, converged: texts.every((t) => t === texts[0]) })
    editors.forEach((e) => e.provider.destroy())
    return
  }
  // mode edit
  const markers = []
  const names = editors.map((_e, i) => `editor${i}`)
  const seenBy = (e) => [...e.provider.awareness.getStates().values()].map((st) => st?.user?.name).filter(Boolean)
  if (cfg.awareness) {
    editors.forEach((e, i) => {
      e.provider.awareness.setLocalStateField('user', { name: names[i], color: '#e91e63' })
      e.provider.awareness.setLocalStateField('cursor', { anchor: i, head: i })
    })
  }
  if (cfg.bigEdit) {
    const big = '[big' + 'x'.repeat(cfg.bigEdit - 5) + ']'
    markers.push(big)
    editors[0].text.insert(0, big)
  }
  await Promise.all(editors.map(async (e, i) => {
    for (let k = 0; k < cfg.edits; k++) {
      const marker = `[e${i}.${k}]`
      markers.push(marker)
      const at = Math.random() < 0.5 ? 0 : e.text.length  // at a boundary: markers never split each other
      e.text.insert(at, marker)
      await sleep(Math.floor(Math.random() * 20))
    }
  }))
  const complete = () => editors.every((e) => { const s = e.text.toString(); return markers.every((m) => s.includes(m)) })
  let converged = true
  try { await until(complete, timeoutMs, 'convergence') } catch { converged = false }
  if (cfg.awareness) {
    // `awareness`: true (every editor sees everyone) or, per editor, the names it is to see
    const expected = Array.isArray(cfg.awareness) ? cfg.awareness : editors.map(() => names)
    const everyone = () => editors.every((e, i) => expected[i].every((n) => seenBy(e).includes(n)))
    try { await until(everyone, timeoutMs, 'awareness') } catch { /* reported through `seen` */ }
  }
  await sleep(cfg.settleMs ?? 300)
  const texts = editors.map((e) => e.text.toString())
  out({ converged: converged && texts.every((t) => t === texts[0]), text: texts[0], distinct: new Set(texts).size,
    ms: Date.now() - t0, closes: editors.flatMap((e) => e.closes), seen: editors.map(seenBy) })
  editors.forEach((e) => e.provider.destroy())
}

// exit only once stdout is flushed (a pipe takes large output in several writes)
const exit = (code) => process.stdout.write('', () => process.exit(code))
main().then(() => exit(0), (err) => { out({ error: String(err) }); exit(1) })
