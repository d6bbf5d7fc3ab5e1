// Page side of the vt-tui browser runner.
//
// Python (vt_core.runners.browser) serves this folder on 127.0.0.1, opens
// index.html in headless Chromium and calls the functions on window.vtRunner
// through Playwright's page.evaluate. Every function resolves to a plain JSON
// object. A failure resolves to {ok: false, error: {...}} instead of throwing,
// so that Python receives the browser's own error name and message.
//
// Timing uses performance.now() around each complete inference: session.run()
// resolves only after the outputs are read back to CPU memory, so a WebGPU
// sample includes the GPU work. For image-to-text one sample is one complete
// greedy caption (vision encoder once, then one decoder run per token).

const state = {
  ort: null,
  ortVersion: null,
  provider: null,
  task: null,
  sessions: {},
  feeds: {},
  generation: null,
  lastOutput: null,
};

function describeError(error, stage) {
  if (error instanceof Error || (error && typeof error === "object" && "message" in error)) {
    return { ok: false, error: { stage, name: error.name || "Error", message: String(error.message), stack: String(error.stack || "") } };
  }
  return { ok: false, error: { stage, name: "Error", message: String(error), stack: "" } };
}

async function probeWebGPU() {
  if (!("gpu" in navigator)) {
    return {
      available: false,
      reason: "navigator.gpu is undefined: this Chromium exposes no WebGPU (launch it with --enable-unsafe-webgpu on Linux)",
    };
  }
  let adapter;
  try {
    adapter = await navigator.gpu.requestAdapter();
  } catch (error) {
    return { available: false, reason: `navigator.gpu.requestAdapter() failed: ${error.name}: ${error.message}` };
  }
  if (!adapter) {
    return { available: false, reason: "navigator.gpu.requestAdapter() returned null: the browser found no usable GPU adapter" };
  }
  const info = adapter.info || {};
  // isFallbackAdapter moved from GPUAdapter to GPUAdapterInfo in Chromium 136; read both.
  const fallback = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false);
  return {
    available: true,
    reason: null,
    adapter: {
      vendor: info.vendor || "",
      architecture: info.architecture || "",
      device: info.device || "",
      description: info.description || "",
      is_fallback_adapter: fallback,
      features: Array.from(adapter.features || []).sort(),
      max_buffer_size: Number(adapter.limits?.maxBufferSize ?? 0),
      max_storage_buffer_binding_size: Number(adapter.limits?.maxStorageBufferBindingSize ?? 0),
    },
  };
}

async function probeWebNN(deviceTypes) {
  if (!("ml" in navigator)) {
    return {
      available: false,
      reason: "navigator.ml is undefined: this Chromium exposes no WebNN (it needs --enable-features=WebMachineLearningNeuralNetwork)",
      devices: {},
    };
  }
  const devices = {};
  for (const deviceType of deviceTypes) {
    try {
      const context = await navigator.ml.createContext({ deviceType });
      devices[deviceType] = { available: true, reason: null };
      if (context && typeof context.destroy === "function") context.destroy();
    } catch (error) {
      devices[deviceType] = { available: false, reason: `navigator.ml.createContext({deviceType: "${deviceType}"}) failed: ${error.name}: ${error.message}` };
    }
  }
  const any = Object.values(devices).some((d) => d.available);
  const first = Object.values(devices).find((d) => !d.available);
  return { available: any, reason: any ? null : first ? first.reason : "no WebNN device type was probed", devices };
}

async function probe({ webnnDeviceTypes = ["cpu", "gpu", "npu"] } = {}) {
  try {
    return {
      ok: true,
      user_agent: navigator.userAgent,
      cross_origin_isolated: Boolean(self.crossOriginIsolated),
      hardware_concurrency: navigator.hardwareConcurrency,
      webgpu: await probeWebGPU(),
      webnn: await probeWebNN(webnnDeviceTypes),
    };
  } catch (error) {
    return describeError(error, "probe");
  }
}

function typedArrayFor(dtype, buffer, offset, count) {
  switch (dtype) {
    case "float32":
      return new Float32Array(buffer, offset, count);
    case "int64":
      return new BigInt64Array(buffer, offset, count);
    case "int32":
      return new Int32Array(buffer, offset, count);
    default:
      throw new TypeError(`input dtype ${dtype} is not supported by the page; use float32, int64 or int32`);
  }
}

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url} failed with HTTP ${response.status}`);
  return response;
}

// Read the tensors that Python wrote: a JSON manifest plus one binary file of
// little-endian data, each tensor at its own 8-byte aligned offset.
async function loadInputs(manifestUrl) {
  const manifest = await (await fetchOk(manifestUrl)).json();
  const buffer = await (await fetchOk(new URL(manifest.data, manifestUrl).href)).arrayBuffer();
  const feeds = {};
  for (const tensor of manifest.tensors) {
    const count = tensor.dims.reduce((a, b) => a * b, 1);
    feeds[tensor.name] = new state.ort.Tensor(tensor.dtype, typedArrayFor(tensor.dtype, buffer, tensor.offset, count), tensor.dims);
  }
  return feeds;
}

function executionProviders(provider, deviceType) {
  if (provider === "webgpu") return ["webgpu"];
  if (provider === "webnn") return [{ name: "webnn", deviceType: deviceType || "cpu" }];
  if (provider === "wasm") return ["wasm"];
  throw new TypeError(`execution provider ${provider} is invalid; use webgpu, webnn or wasm`);
}

// config: {ortModule, wasmPaths, provider, deviceType, task, models: {role: url},
//          generation: {promptIds, maxNewTokens, minNewTokens, eosTokenId, padTokenId}}
async function setup(config) {
  let stage = "import";
  try {
    const started = performance.now();
    state.ort = await import(config.ortModule);
    state.ort.env.wasm.wasmPaths = config.wasmPaths;
    state.ort.env.logLevel = config.logLevel || "warning";
    state.ortVersion = state.ort.env.versions?.web ?? null;
    const importMs = performance.now() - started;

    stage = "create_session";
    state.provider = config.provider;
    state.task = config.task;
    state.generation = config.generation || null;
    const options = {
      executionProviders: executionProviders(config.provider, config.deviceType),
      graphOptimizationLevel: "all",
    };
    const sessionMs = {};
    const io = {};
    for (const [role, url] of Object.entries(config.models)) {
      const t0 = performance.now();
      state.sessions[role] = await state.ort.InferenceSession.create(url, options);
      sessionMs[role] = performance.now() - t0;
      io[role] = { inputs: state.sessions[role].inputNames, outputs: state.sessions[role].outputNames };
    }
    return {
      ok: true,
      ort_version: state.ortVersion,
      import_ms: importMs,
      session_ms: sessionMs,
      io,
      cross_origin_isolated: Boolean(self.crossOriginIsolated),
      wasm_threads: state.ort.env.wasm.numThreads ?? null,
    };
  } catch (error) {
    return describeError(error, stage);
  }
}

async function setInputs({ manifest }) {
  try {
    state.feeds = await loadInputs(manifest);
    return { ok: true, inputs: Object.keys(state.feeds) };
  } catch (error) {
    return describeError(error, "inputs");
  }
}

function pick(feeds, names) {
  const picked = {};
  for (const name of names) {
    if (!(name in feeds)) throw new Error(`input ${name} is missing from the prepared inputs (have ${Object.keys(feeds).join(", ")})`);
    picked[name] = feeds[name];
  }
  return picked;
}

async function inferLogits() {
  const session = state.sessions.model;
  const outputs = await session.run(pick(state.feeds, session.inputNames));
  const result = {};
  for (const name of session.outputNames) {
    result[name] = { dtype: outputs[name].type, dims: Array.from(outputs[name].dims), data: outputs[name].data };
  }
  return result;
}

function argmaxRows(logits, rows, vocab) {
  const best = new Array(rows);
  for (let r = 0; r < rows; r++) {
    let index = 0;
    let value = -Infinity;
    const base = r * vocab;
    for (let v = 0; v < vocab; v++) {
      const x = logits[base + v];
      if (x > value) {
        value = x;
        index = v;
      }
    }
    best[r] = index;
  }
  return best;
}

// Greedy decoding without a key/value cache: every step reruns the decoder on
// the whole sequence so far, and the exported decoder returns only the logits
// of the last position. The rules follow transformers' generate: the end token
// is masked out until minNewTokens tokens exist, finished rows are padded, and
// the loop stops after maxNewTokens or when every row has ended.
async function inferCaption() {
  const ort = state.ort;
  const gen = state.generation;
  const vision = state.sessions.vision;
  const decoder = state.sessions.decoder;
  const visionOut = await vision.run(pick(state.feeds, vision.inputNames));
  const encoderStates = visionOut[vision.outputNames[0]];
  const batch = encoderStates.dims[0];

  const sequences = [];
  for (let b = 0; b < batch; b++) sequences.push(gen.promptIds.slice());
  const finished = new Array(batch).fill(false);
  let firstStepLogits = null;
  let vocab = 0;
  for (let step = 0; step < gen.maxNewTokens; step++) {
    const length = sequences[0].length;
    const ids = new BigInt64Array(batch * length);
    for (let b = 0; b < batch; b++) for (let t = 0; t < length; t++) ids[b * length + t] = BigInt(sequences[b][t]);
    const mask = new BigInt64Array(batch * length).fill(1n);
    const feeds = {
      input_ids: new ort.Tensor("int64", ids, [batch, length]),
      attention_mask: new ort.Tensor("int64", mask, [batch, length]),
      encoder_hidden_states: encoderStates,
    };
    const out = await decoder.run(pick(feeds, decoder.inputNames));
    const logits = out[decoder.outputNames[0]];
    vocab = logits.dims[logits.dims.length - 1];
    // Copy: the first step's raw logits are compared with the reference's.
    if (step === 0) firstStepLogits = Float32Array.from(logits.data);
    const scores = gen.eosTokenId !== null && step < gen.minNewTokens ? Float32Array.from(logits.data) : logits.data;
    if (scores !== logits.data) for (let b = 0; b < batch; b++) scores[b * vocab + gen.eosTokenId] = -Infinity;
    const next = argmaxRows(scores, batch, vocab);
    for (let b = 0; b < batch; b++) {
      const token = finished[b] ? gen.padTokenId : next[b];
      sequences[b].push(token);
      if (gen.eosTokenId !== null && token === gen.eosTokenId) finished[b] = true;
    }
    if (finished.every(Boolean)) break;
  }
  const promptLength = gen.promptIds.length;
  const generated = sequences.map((row) => row.slice(promptLength));
  return {
    token_ids: { dtype: "int64", dims: [batch, generated[0].length], data: generated.flat() },
    first_step_logits: { dtype: "float32", dims: [batch, vocab], data: firstStepLogits },
  };
}

async function inferOnce() {
  if (state.task === "clip") return inferLogits();
  if (state.task === "blip") return inferCaption();
  throw new TypeError(`page task ${state.task} is invalid; use clip or blip`);
}

function serialize(outputs) {
  const plain = {};
  for (const [name, tensor] of Object.entries(outputs)) {
    plain[name] = { dtype: tensor.dtype, dims: tensor.dims, data: Array.from(tensor.data, Number) };
  }
  return plain;
}

// Run once, untimed by the caller's loop, and keep the output for the comparison.
async function runOnce() {
  try {
    const t0 = performance.now();
    const output = await inferOnce();
    const elapsedMs = performance.now() - t0;
    state.lastOutput = output;
    return { ok: true, elapsed_ms: elapsedMs, outputs: serialize(output) };
  } catch (error) {
    return describeError(error, "run");
  }
}

// Time up to `count` complete inferences, stopping early once `maxMs` has
// passed so that Python can report progress between calls.
async function timeIterations({ count, maxMs }) {
  const samples = [];
  try {
    const begin = performance.now();
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      state.lastOutput = await inferOnce();
      samples.push(performance.now() - t0);
      if (performance.now() - begin >= maxMs) break;
    }
    return { ok: true, samples_ms: samples, elapsed_ms: performance.now() - begin };
  } catch (error) {
    const failed = describeError(error, "measure");
    failed.samples_ms = samples;
    return failed;
  }
}

function lastOutput() {
  return state.lastOutput ? { ok: true, outputs: serialize(state.lastOutput) } : { ok: false, error: { stage: "output", name: "Error", message: "no inference has run yet" } };
}

// performance.measureUserAgentSpecificMemory exists only in cross-origin
// isolated pages. Chromium may resolve it only after the next garbage
// collection, so the caller bounds the wait.
async function measureMemory({ timeoutMs }) {
  if (typeof performance.measureUserAgentSpecificMemory !== "function") {
    return { ok: true, bytes: null, reason: "performance.measureUserAgentSpecificMemory is not available in this page" };
  }
  try {
    const timeout = new Promise((resolve) => setTimeout(() => resolve(null), timeoutMs));
    const result = await Promise.race([performance.measureUserAgentSpecificMemory(), timeout]);
    if (result === null) return { ok: true, bytes: null, reason: `performance.measureUserAgentSpecificMemory did not answer within ${timeoutMs} ms` };
    return { ok: true, bytes: result.bytes, breakdown: result.breakdown.map((b) => ({ bytes: b.bytes, types: b.types })) };
  } catch (error) {
    return describeError(error, "memory");
  }
}

async function release() {
  for (const session of Object.values(state.sessions)) {
    try {
      await session.release();
    } catch {
      // Releasing is best effort; the browser closes right after.
    }
  }
  state.sessions = {};
  return { ok: true };
}

window.vtRunner = { probe, setup, setInputs, runOnce, timeIterations, lastOutput, measureMemory, release };
document.getElementById("status").textContent = "ready";
