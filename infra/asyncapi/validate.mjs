// Validate an AsyncAPI document with the official parser; print its diagnostics as JSON.
// Exit 1 when the document has errors (severity 0).
import { Parser, fromFile } from "@asyncapi/parser";

const path = process.argv[2];
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, path).parse();
const simplify = (d) => ({ severity: d.severity, code: d.code, message: d.message, path: d.path.join(".") });
const errors = diagnostics.filter((d) => d.severity === 0).map(simplify);
const warnings = diagnostics.filter((d) => d.severity === 1).map(simplify);
console.log(JSON.stringify({
  valid: document !== undefined && errors.length === 0,
  version: document?.version(),
  channels: document ? document.channels().length : 0,
  messages: document ? document.allMessages().length : 0,
  errors,
  warnings,
}));
process.exit(errors.length === 0 && document !== undefined ? 0 : 1);
