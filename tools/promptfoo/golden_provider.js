// Returns the case's model output verbatim, so promptfoo grades a known string
// without calling any LLM. generate_golden.py passes the output base64-encoded
// (var `golden_output_b64`) because promptfoo pre-processes var values before the
// provider sees them (strips one trailing "\n", resolves {{var}} references,
// loads file:// values); base64 text is immune to all of that.
class GoldenOutputProvider {
  constructor(options = {}) {
    this.providerId = options.id || 'golden-output';
  }

  id() {
    return this.providerId;
  }

  async callApi(_prompt, context) {
    const b64 = context && context.vars ? context.vars.golden_output_b64 : undefined;
    if (typeof b64 !== 'string') {
      return { error: 'golden provider: missing var golden_output_b64' };
    }
    const output = Buffer.from(b64, 'base64').toString('utf8');
    return { output, cached: false, tokenUsage: { total: 0, prompt: 0, completion: 0, numRequests: 0 } };
  }
}

module.exports = GoldenOutputProvider;
