// Parquet interoperability fixtures, made with an independent Parquet
// implementation (hyparquet / hyparquet-writer, JavaScript):
//  1. data/testdata/hf-style.parquet (+ .json with the expected values): a
//     corpus shaped like Hugging Face datasets output — an optional string
//     "text" column, an optional list<int64> "input_ids" column in the
//     3-level LIST layout pyarrow writes (input_ids.list.element), an "id"
//     column — for the data package's Parquet corpus reader.
//  2. shards/testdata/export.hyparquet.json: shards/testdata/export.parquet
//     (written by the shards package's exporter) as hyparquet reads it.
// Run through scripts/parquet-fixtures.sh.
import { parquetWriteFile } from 'hyparquet-writer'
import { asyncBufferFromFile, parquetReadObjects, parquetMetadataAsync, parquetSchema } from 'hyparquet'
import { writeFileSync } from 'node:fs'

// Deterministic pseudo-random numbers (mulberry32), so the fixture is
// reproducible.
let state = 12345
const rand = (n) => {
  state = (state + 0x6D2B79F5) | 0
  let t = Math.imul(state ^ (state >>> 15), 1 | state)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) % n
}

const texts = [], ids = [], idCol = []
for (let i = 0; i < 1500; i++) {
  const len = rand(12)
  const row = []
  for (let j = 0; j < len; j++) row.push(BigInt(rand(128256)))
  ids.push(i % 97 === 0 ? [] : row)
  texts.push(i % 50 === 7 ? null : `doc ${i}: ` + 'é word. '.repeat(rand(5)))
  idCol.push(BigInt(i))
}
parquetWriteFile({
  filename: 'data/testdata/hf-style.parquet',
  columnData: [
    { name: 'text', data: texts },
    { name: 'input_ids', data: ids },
    { name: 'id', data: idCol },
  ],
  schema: [
    { name: 'schema', num_children: 3 },
    { name: 'text', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'input_ids', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', type: 'INT64', repetition_type: 'OPTIONAL' },
    { name: 'id', type: 'INT64', repetition_type: 'REQUIRED' },
  ],
  rowGroupSize: 400,
  pageSize: 2048,
})
writeFileSync('data/testdata/hf-style.json', JSON.stringify({
  text: texts,
  input_ids: ids.map(r => r.map(Number)),
}) + '\n')

const file = await asyncBufferFromFile('shards/testdata/export.parquet')
const metadata = await parquetMetadataAsync(file)
const schema = parquetSchema(metadata)
const rows = await parquetReadObjects({ file })
const out = {
  reader: 'hyparquet',
  schema: schema.children.map(c => ({ name: c.element.name, converted_type: c.element.converted_type ?? null,
    leaf: c.children.length ? c.children[0].children[0].element.type : c.element.type })),
  rows: rows.map(r => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.from(v, Number)]))),
}
writeFileSync('shards/testdata/export.hyparquet.json', JSON.stringify(out) + '\n')
console.log(`wrote hf-style.parquet (${texts.length} rows) and export.hyparquet.json (${rows.length} rows)`)
