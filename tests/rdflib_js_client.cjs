// rdflib.js (the Linked Data library of SolidOS/mashlib) driven through its documented LDP operations against a
// serve URL: node rdflib_js_client.cjs NODE_PREFIX BASE_URL. Prints one JSON line per step: {step, ok, value|error}.
// Run by tests/test_third_party_clients.py.
const { createRequire } = require('module')
const $rdf = createRequire(process.argv[2] + '/')('rdflib')
const base = process.argv[3]

const DC = $rdf.Namespace('http://purl.org/dc/terms/')
const LDP = $rdf.Namespace('http://www.w3.org/ns/ldp#')
const store = $rdf.graph()
const fetcher = new $rdf.Fetcher(store, { timeout: 10000 })
const updater = new $rdf.UpdateManager(store)
const doc = $rdf.sym(base + '/js-doc')
const titles = () => store.statementsMatching(doc, DC('title'), null, doc).map((s) => s.object.value)

async function step (name, run) {
  try {
    console.log(JSON.stringify({ step: name, ok: true, value: await run() }))
  } catch (err) {
    console.log(JSON.stringify({ step: name, ok: false, error: String((err && err.message) || err).slice(0, 500) }))
  }
}

async function main () {
  await step('webOperation PUT', async () => (await fetcher.webOperation('PUT', doc.uri, {
    data: '<> <http://purl.org/dc/terms/title> "one" .', contentType: 'text/turtle'
  })).status)
  await step('load', async () => { await fetcher.load(doc); return titles() })
  await step('editable', async () => updater.editable(doc.uri, store))
  await step('update', async () => { // a SPARQL Update PATCH of the document's own triples
    await updater.update(store.statementsMatching(doc, DC('title'), null, doc), [$rdf.st(doc, DC('title'), $rdf.lit('two'), doc)])
    store.removeDocument(doc)
    await fetcher.load(doc, { force: true })
    return titles()
  })
  await step('putBack', async () => { // PUTs the document as loaded (server-managed triples included) with a change
    store.add(doc, DC('subject'), $rdf.lit('kept'), doc)
    const status = (await fetcher.putBack(doc, { contentType: 'text/turtle' })).status
    store.removeDocument(doc)
    await fetcher.load(doc, { force: true })
    return [status, store.statementsMatching(doc, DC('subject'), null, doc).map((s) => s.object.value)]
  })
  await step('createContainer', async () => {
    const response = await fetcher.createContainer(base + '/', 'js-box')
    return [response.status, response.headers.get('location')]
  })
  await step('contains', async () => {
    const root = $rdf.sym(base + '/')
    await fetcher.load(root, { force: true })
    return store.each(root, LDP('contains'), null, root).map((n) => n.value).sort()
  })
  await step('delete', async () => (await fetcher.delete(base + '/js-box')).status)
}

main()
