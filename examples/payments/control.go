package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/lanyard-dev/lanyard/clients/go/identity"
	"github.com/lanyard-dev/lanyard/clients/go/revocation"
	"github.com/lanyard-dev/lanyard/clients/go/token"
)

// control is the plain-HTTP control API on loopback, for tests and operators. It never returns a
// token or a key.
type control struct {
	log      *slog.Logger
	serving  atomic.Bool
	src      *identity.Source
	peers    identity.Authorizer // the trust domains whose services it calls
	follower *revocation.Follower
	tokens   *token.Fetcher
}

func (c *control) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", c.healthz)
	mux.HandleFunc("GET /status", c.status)
	mux.HandleFunc("POST /call", c.call)
	mux.HandleFunc("POST /renew", c.renew)
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// renew renews the certificate now and reports the outcome as a gRPC status, like /call.
func (c *control) renew(w http.ResponseWriter, r *http.Request) {
	if err := c.src.RenewNow(r.Context()); err != nil {
		code := codes.Unknown
		var withStatus interface{ GRPCStatus() *status.Status }
		if errors.As(err, &withStatus) {
			code = withStatus.GRPCStatus().Code()
		}
		writeJSON(w, http.StatusOK, callResult{Code: codeName(code), Message: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, callResult{Code: codeName(codes.OK), Message: "renewed, serial " + c.src.Serial()})
}

func (c *control) healthz(w http.ResponseWriter, _ *http.Request) {
	if !c.serving.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "not serving yet"})
		return
	}
	select {
	case <-c.follower.Loaded():
	default:
		// The verifier refuses every call (UNAVAILABLE) until the revocation stream has caught up.
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "revocations are not loaded yet"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"spiffe_id": c.src.SVID().ID.String(), "serial": c.src.Serial()})
}

func (c *control) status(w http.ResponseWriter, _ *http.Request) {
	if !c.serving.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "not serving yet"})
		return
	}
	st := c.src.Status()
	writeJSON(w, http.StatusOK, map[string]any{
		"spiffe_id":           st.ID.String(),
		"serial":              st.Serial,
		"not_after":           st.NotAfter.UTC().Format(time.RFC3339),
		"renewals":            st.Renewals,
		"last_renewal_error":  st.LastRenewalError,
		"revocation_sequence": c.follower.Sequence(),
	})
}

type callRequest struct {
	Target   string          `json:"target"`
	Method   string          `json:"method"`
	Audience string          `json:"audience"`
	Scopes   []string        `json:"scopes"`
	Token    string          `json:"token"`
	Request  json.RawMessage `json:"request"` // optional: the request message in protobuf JSON
}

type callResult struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// call makes one outgoing call over mTLS with the current certificate and a token bound to it, and
// answers its gRPC status.
func (c *control) call(w http.ResponseWriter, r *http.Request) {
	if !c.serving.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "not serving yet"})
		return
	}
	var req callRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body is not a call request: " + err.Error()})
		return
	}
	method, err := findMethod(req.Method)
	if err == nil && req.Target == "" {
		err = errors.New("target is required")
	}
	if err == nil && req.Token == "" && (req.Audience == "" || len(req.Scopes) == 0) {
		err = errors.New("audience and scopes are required unless a token is given")
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	in := dynamicpb.NewMessage(method.Input())
	if len(req.Request) > 0 {
		if err := protojson.Unmarshal(req.Request, in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "request is not a " + string(method.Input().FullName()) + ": " + err.Error()})
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	// One certificate for the whole call: the token is bound to it and the connection presents it.
	svid := c.src.SVID()
	tok := req.Token
	if tok == "" {
		if tok, err = c.tokens.Token(ctx, svid.Leaf, req.Audience, req.Scopes); err != nil {
			writeJSON(w, http.StatusOK, result(err, "fetching a token: ", ""))
			return
		}
	}
	err = c.invoke(ctx, svid, req.Target, method, in, tok)
	c.log.Info("outgoing call", "target", req.Target, "method", req.Method, "code", codeName(status.Code(err)))
	writeJSON(w, http.StatusOK, result(err, "", tok))
}

func (c *control) invoke(ctx context.Context, svid *identity.SVID, target string, method protoreflect.MethodDescriptor, in *dynamicpb.Message, tok string) error {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(credentials.NewTLS(
		c.src.ClientTLSConfigFor(svid, c.peers))))
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	defer conn.Close()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	name := fmt.Sprintf("/%s/%s", method.Parent().FullName(), method.Name())
	out := dynamicpb.NewMessage(method.Output())
	if !method.IsStreamingClient() && !method.IsStreamingServer() {
		return conn.Invoke(ctx, name, in, out)
	}
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: method.IsStreamingServer(),
		ClientStreams: method.IsStreamingClient()}, name)
	if err != nil {
		return err
	}
	if err := stream.SendMsg(in); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	// Response headers show the call was accepted (a watch would otherwise run until the
	// deadline); a refusal comes as trailers only, and RecvMsg then returns its status.
	md, err := stream.Header()
	if err != nil {
		return err
	}
	if md != nil {
		return nil
	}
	if err := stream.RecvMsg(out); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func findMethod(full string) (protoreflect.MethodDescriptor, error) {
	service, name, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	if !ok || !strings.HasPrefix(full, "/") {
		return nil, fmt.Errorf("method must look like /pkg.Service/Method, not %q", full)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return nil, fmt.Errorf("unknown service %q", service)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("%q is not a service", service)
	}
	m := sd.Methods().ByName(protoreflect.Name(name))
	if m == nil {
		return nil, fmt.Errorf("service %s has no method %q", service, name)
	}
	return m, nil
}

// result is the JSON answer of /call; the message never holds the token.
func result(err error, prefix, tok string) callResult {
	if err == nil {
		return callResult{Code: codeName(codes.OK)}
	}
	// FromError also reads a status wrapped in err (then the message is err's whole text).
	s, _ := status.FromError(err)
	msg := prefix + s.Message()
	if tok != "" {
		msg = strings.ReplaceAll(msg, tok, "[token]")
	}
	return callResult{Code: codeName(s.Code()), Message: msg}
}

// codeName is the canonical upper-snake name of a gRPC code, e.g. PERMISSION_DENIED.
func codeName(c codes.Code) string {
	return rpccode.Code(c).String()
}
