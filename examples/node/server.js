// shop: a small HTTP service that writes its audit trail to otelcol-audit through the
// OpenTelemetry JS SDK: one audit record for every request it serves, and one for each thing a
// request changes. Every record is emitted inside the request's span, so it carries the trace ID,
// and it names the caller: user, tenant, client address and user agent, taken from the request.
// This is what the request middleware of an in-process audit library did; here the records go to
// the collector, which redacts, stores and serves them.
//
//   OTEL_EXPORTER_OTLP_LOGS_ENDPOINT  where to send (default http://127.0.0.1:4318/v1/logs)
//   OTEL_SERVICE_NAME                 the records' service_name (default shop)
//   LISTEN_ADDR                       where to serve (default 127.0.0.1:8091)
//
// With the collector running (`make run` at the repository's root), and the modules installed
// (`bash scripts/install-examples.sh`):
//
//   node server.js &
//   curl -s -X POST http://127.0.0.1:8091/invoices -H 'X-User-ID: u-42' -H 'X-Tenant-ID: acme'
//   curl -s 'http://127.0.0.1:8089/api/v1/logs?user_id=u-42'
'use strict';

const http = require('node:http');
const { randomUUID } = require('node:crypto');
const api = require('@opentelemetry/api');
const { SeverityNumber } = require('@opentelemetry/api-logs');
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-proto');
const { resourceFromAttributes, detectResources, envDetector } = require('@opentelemetry/resources');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');

// Export failures are reported through the diagnostic logger, which is silent until set: without
// this line a collector that is down or refuses the records goes unnoticed.
api.diag.setLogger(new api.DiagConsoleLogger(), api.DiagLogLevel.WARN);

// A bare LoggerProvider does not read OTEL_SERVICE_NAME (its records say unknown_service:node):
// the resource names the service, and envDetector lets OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES override the default.
const resource = resourceFromAttributes({ 'service.name': 'shop' })
  .merge(detectResources({ detectors: [envDetector] }));

// OTLP over HTTP with protobuf bodies (exporter-logs-otlp-proto; the -http package sends JSON
// whatever OTEL_EXPORTER_OTLP_LOGS_PROTOCOL says). Records leave in batches.
const loggerProvider = new LoggerProvider({
  resource,
  processors: [
    new BatchLogRecordProcessor({
      exporter: new OTLPLogExporter({
        url: process.env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT || 'http://127.0.0.1:4318/v1/logs',
      }),
    }),
  ],
});
const auditLogger = loggerProvider.getLogger('shop'); // the scope name becomes the record's `scope`

// Spans give each record its trace ID. register() installs the context manager that carries the
// active span across callbacks and awaits, and the W3C propagator that continues a trace the
// caller started (traceparent header). Add a span processor to send the traces somewhere too.
const tracerProvider = new NodeTracerProvider({ resource });
tracerProvider.register();
const tracer = api.trace.getTracer('shop');

const CALLER = api.createContextKey('shop.caller');

// callerOf reads the request's caller. The user and tenant come from headers that an
// authenticating proxy in front of this service sets; put your own session or token check here.
function callerOf(req) {
  return {
    userId: req.headers['x-user-id'] || '',
    tenantId: req.headers['x-tenant-id'] || '',
    // The TCP peer. Behind a reverse proxy, take the client address it reports instead.
    address: (req.socket.remoteAddress || '').replace(/^::ffff:/, ''),
    userAgent: req.headers['user-agent'] || '',
  };
}

// emit writes one audit record. The active context carries the request's span, which gives the
// record its trace and span ID, and the caller, which gives it user, tenant, client address and
// user agent.
function emit(eventName, severityNumber, message, attributes = {}) {
  const caller = api.context.active().getValue(CALLER);
  auditLogger.emit({
    eventName,
    severityNumber,
    body: message,
    attributes: {
      ...(caller && {
        'user.id': caller.userId,
        'tenant.id': caller.tenantId,
        'client.address': caller.address,
        'user_agent.original': caller.userAgent,
      }),
      ...attributes,
    },
  });
}

// auditRequests is the request middleware: it runs the handler inside a server span (continuing
// the caller's trace) with the caller in the context, and writes one record per request with its
// method, path, status, duration and outcome when the response closes. 'close', not 'finish':
// a request the client aborts before the answer never emits 'finish', and would go unaudited.
// Such a record says audit.outcome=aborted and has no status code, since none was sent.
function auditRequests(handler) {
  return (req, res) => {
    const path = new URL(req.url, 'http://localhost').pathname;
    if (path === '/healthz') {
      return handler(req, res);
    }
    const start = process.hrtime.bigint();
    const parent = api.propagation.extract(api.context.active(), req.headers);
    tracer.startActiveSpan(`${req.method} ${path}`, { kind: api.SpanKind.SERVER }, parent, (span) => {
      const ctx = api.context.active().setValue(CALLER, callerOf(req));
      res.on('close', () => {
        api.context.with(ctx, () => {
          const durationMs = Number(process.hrtime.bigint() - start) / 1e6;
          if (!res.writableFinished) {
            emit('http.request', SeverityNumber.WARN, `${req.method} ${path} aborted by the client before the answer`, {
              'audit.level': 'warn',
              'audit.outcome': 'aborted',
              'http.request.method': req.method,
              'url.path': path,
              'audit.duration_ms': durationMs,
            });
            return;
          }
          const status = res.statusCode;
          let severity = SeverityNumber.INFO;
          let level = 'info';
          if (status === 401 || status === 403) {
            [severity, level] = [SeverityNumber.WARN, 'security'];
          } else if (status >= 500) {
            [severity, level] = [SeverityNumber.ERROR, 'error'];
          } else if (status >= 400) {
            [severity, level] = [SeverityNumber.WARN, 'warn'];
          }
          emit('http.request', severity, `${req.method} ${path} answered ${status}`, {
            'audit.level': level,
            'audit.outcome': 'completed',
            'http.request.method': req.method,
            'url.path': path,
            'http.response.status_code': status,
            'audit.duration_ms': durationMs,
          });
        });
        span.end();
      });
      api.context.with(ctx, () => handler(req, res));
    });
  };
}

function routes(req, res) {
  const path = new URL(req.url, 'http://localhost').pathname;
  if (req.method === 'GET' && path === '/healthz') {
    res.writeHead(204).end();
  } else if (req.method === 'POST' && path === '/invoices') {
    createInvoice(req, res);
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  }
}

// maxBody bounds what a request may send: an invoice's fields are a few hundred bytes.
const maxBody = 64 << 10;

// readJSON reads the request's body, an optional JSON object, and calls done(err, value) once.
// A client that hangs up mid-body makes req emit 'error'; the middleware audits that request
// when its response closes, so the handler only stops.
function readJSON(req, done) {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= maxBody) chunks.push(chunk);
  });
  req.on('error', () => {});
  req.on('end', () => {
    if (size > maxBody) return done(new Error(`the body is larger than ${maxBody} bytes`));
    const text = Buffer.concat(chunks).toString('utf8').trim();
    if (text === '') return done(null, {});
    try {
      const value = JSON.parse(text);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('expected a JSON object');
      done(null, value);
    } catch (err) {
      done(err);
    }
  });
}

// createInvoice takes an optional {"customer":"..."} body and answers {"id":...}.
function createInvoice(req, res) {
  if (!req.headers['x-user-id'] || !req.headers['x-tenant-id']) {
    res.writeHead(401, { 'Content-Type': 'text/plain' }).end('who are you? (X-User-ID and X-Tenant-ID)\n');
    return;
  }
  readJSON(req, (err, fields) => {
    if (err) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`bad invoice: ${err.message}\n`);
      return;
    }
    const id = 'inv-' + randomUUID().slice(0, 8);
    emit('invoice.created', SeverityNumber.INFO, `invoice ${id} created`, {
      'audit.entity_type': 'invoice',
      'audit.entity_id': id,
      ...(typeof fields.customer === 'string' && { 'invoice.customer': fields.customer }),
    });
    res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ id }));
  });
}

const [host, port] = (process.env.LISTEN_ADDR || '127.0.0.1:8091').split(/:(?=\d+$)/);
const server = http.createServer(auditRequests(routes));
server.listen(Number(port), host, () => console.log(`shop listening on ${host}:${port}`));

// Shutdown flushes the batch processor. Without it the records still in the batch (in a short
// program: all of them) are lost when the process exits.
async function shutdown(signal) {
  console.log(`shop: ${signal}, shutting down`);
  // Requests still running emit their records when they close (answered or aborted): wait for
  // them, then flush.
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  await closed;
  try {
    await loggerProvider.shutdown();
    await tracerProvider.shutdown();
  } catch (err) {
    console.error('shop: flush audit records:', err);
    process.exitCode = 1;
  }
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
