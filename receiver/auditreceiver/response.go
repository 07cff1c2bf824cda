package auditreceiver // import "github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver"

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelcol-audit/otelcol-audit/internal/httpjson"
)

// Error codes of the JSON error body. They are part of the API: clients branch on them.
const (
	codeInvalidBody          = "invalid_body"
	codeInvalidRequest       = "invalid_request"
	codeInvalidEvent         = "invalid_event"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeMethodNotAllowed     = "method_not_allowed"
	codeNotFound             = "not_found"
	codeBodyTooLarge         = "body_too_large"
	codeTooManyEvents        = "too_many_events"
	codeUnauthorized         = "unauthorized"
	codeThrottled            = "throttled"
	codePipelineUnavailable  = "pipeline_unavailable"
	codePipelineRejected     = "pipeline_rejected"
	codeInternal             = "internal_error"
)

type acceptedResponse struct {
	Accepted int      `json:"accepted"`
	IDs      []string `json:"ids"`
	// Rejected lists the problems of the events left out; only with partial_success.
	Rejected []problem `json:"rejected,omitempty"`
}

type errorResponse struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Details []problem `json:"details,omitempty"`
}

func writeError(w http.ResponseWriter, statusCode int, code, message string, details ...problem) {
	httpjson.Write(w, statusCode, errorResponse{Error: errorBody{Code: code, Message: message, Details: details}})
}

// writeTransportError answers the errors confighttp raises before the handler runs (an
// unsupported Content-Encoding, a failed authentication) in the receiver's own error format.
func writeTransportError(w http.ResponseWriter, _ *http.Request, message string, statusCode int) {
	code := codeInvalidRequest
	switch statusCode {
	case http.StatusUnauthorized:
		code = codeUnauthorized
	case http.StatusRequestEntityTooLarge:
		code = codeBodyTooLarge
	case http.StatusBadRequest:
		code = codeInvalidBody
	}
	writeError(w, statusCode, code, message)
}

// pipelineFailure is how a consumer error is answered.
type pipelineFailure struct {
	status int
	code   string
	// retry says the same request may succeed later; the answer then carries Retry-After.
	retry bool
}

// classifyConsumerError maps an error of the next consumer to an HTTP answer:
//   - throttling (429): an error that carries HTTP 429 or gRPC RESOURCE_EXHAUSTED, the only forms
//     of "slow down" consumererror can express in this collector version (it has no dedicated
//     throttling helper);
//   - a client error the pipeline attached (an explicit 4xx status): that status;
//   - permanent (consumererror.IsPermanent, or an explicit non-retryable status): 500, because
//     the events passed the schema and the pipeline still refused them for good, which is the
//     collector's fault to fix, not the sender's; retrying the same body will not help;
//   - anything else, including a full queue and a memory limiter refusing data: 503, retry later.
func classifyConsumerError(err error) pipelineFailure {
	explicit, retryable, hasExplicit := explicitStatus(err)
	switch {
	case hasExplicit && explicit == http.StatusTooManyRequests:
		return pipelineFailure{status: http.StatusTooManyRequests, code: codeThrottled, retry: true}
	case hasExplicit && explicit >= 400 && explicit < 500:
		return pipelineFailure{status: explicit, code: codePipelineRejected}
	case consumererror.IsPermanent(err), hasExplicit && !retryable:
		return pipelineFailure{status: http.StatusInternalServerError, code: codePipelineRejected}
	}
	return pipelineFailure{status: http.StatusServiceUnavailable, code: codePipelineUnavailable, retry: true}
}

// explicitStatus finds an HTTP status a component attached to err, through consumererror.Error or
// a gRPC status anywhere in the chain.
func explicitStatus(err error) (statusCode int, retryable, ok bool) {
	var ce *consumererror.Error
	if errors.As(err, &ce) {
		return consumererror.ToHTTPStatus(err), ce.IsRetryable(), true
	}
	if st, isStatus := status.FromError(err); isStatus && st.Code() != codes.OK && st.Code() != codes.Unknown {
		switch st.Code() {
		case codes.ResourceExhausted:
			return http.StatusTooManyRequests, true, true
		case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange, codes.Unavailable, codes.DataLoss:
			return http.StatusServiceUnavailable, true, true
		case codes.InvalidArgument, codes.FailedPrecondition:
			return http.StatusBadRequest, false, true
		case codes.Unauthenticated:
			return http.StatusUnauthorized, false, true
		case codes.PermissionDenied:
			return http.StatusForbidden, false, true
		}
		return http.StatusInternalServerError, false, true
	}
	return 0, false, false
}

// retryAfterSeconds renders d as the delay-seconds form of Retry-After, rounded up so that a
// client never retries earlier than configured.
func retryAfterSeconds(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return strconv.FormatInt(secs, 10)
}
