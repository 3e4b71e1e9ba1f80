// Package gpproto is what the go-plugin benchmark workers and their host
// share: the handshake, the Bench service, and its net/rpc and gRPC plugins.
//
// The gRPC service is written by hand, as protoc-gen-go-grpc would generate
// it: a grpc.ServiceDesc whose handlers decode wrapperspb messages with
// gRPC's default protobuf codec. Calls are real gRPC round trips through
// go-plugin's GRPCPlugin, with no generated code in the repository.
package gpproto

import (
	"context"
	"net/rpc"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Handshake must be the same in host and workers.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "IW_BENCH_GOPLUGIN",
	MagicCookieValue: "5be1c4a7-gp",
}

// PluginName is the name both workers serve the Bench plugin under.
const PluginName = "bench"

// Bench is what a worker implements: ping returns its 32-byte payload,
// echo its payload of any size, ping-struct its string.
type Bench interface {
	Ping(ctx context.Context, b []byte) ([]byte, error)
	PingStruct(ctx context.Context, s string) (string, error)
	Echo(ctx context.Context, b []byte) ([]byte, error)
}

// Caller is what the host gets from Dispense, for either protocol.
type Caller = Bench

// Text is the struct of the struct round trip over net/rpc (gob).
type Text struct {
	Msg string
}

// NetRPCPlugin serves and dispenses Bench over go-plugin's net/rpc.
type NetRPCPlugin struct {
	Impl Bench // worker side only
}

var _ plugin.Plugin = (*NetRPCPlugin)(nil)

// Server returns the net/rpc receiver go-plugin registers as "Plugin".
func (p *NetRPCPlugin) Server(*plugin.MuxBroker) (any, error) { return &RPCServer{impl: p.Impl}, nil }

// Client wraps the rpc client go-plugin made for the dispensed plugin.
func (p *NetRPCPlugin) Client(_ *plugin.MuxBroker, c *rpc.Client) (any, error) {
	return &rpcClient{c: c}, nil
}

// RPCServer is the net/rpc receiver; net/rpc wants exported methods of the
// form Method(args T, reply *R) error.
type RPCServer struct{ impl Bench }

// Ping answers a ping.
func (s *RPCServer) Ping(args []byte, reply *[]byte) error {
	r, err := s.impl.Ping(context.Background(), args)
	*reply = r
	return err
}

// PingStruct answers a struct ping.
func (s *RPCServer) PingStruct(args Text, reply *Text) error {
	r, err := s.impl.PingStruct(context.Background(), args.Msg)
	reply.Msg = r
	return err
}

// Echo answers an echo.
func (s *RPCServer) Echo(args []byte, reply *[]byte) error {
	r, err := s.impl.Echo(context.Background(), args)
	*reply = r
	return err
}

type rpcClient struct{ c *rpc.Client }

func (c *rpcClient) Ping(_ context.Context, b []byte) ([]byte, error) {
	var r []byte
	err := c.c.Call("Plugin.Ping", b, &r)
	return r, err
}

func (c *rpcClient) PingStruct(_ context.Context, s string) (string, error) {
	var r Text
	err := c.c.Call("Plugin.PingStruct", Text{Msg: s}, &r)
	return r.Msg, err
}

func (c *rpcClient) Echo(_ context.Context, b []byte) ([]byte, error) {
	var r []byte
	err := c.c.Call("Plugin.Echo", b, &r)
	return r, err
}

// GRPCPlugin serves and dispenses Bench over go-plugin's gRPC.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Bench // worker side only
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the Bench service.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	s.RegisterService(&serviceDesc, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a Bench that calls the service on conn.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &grpcClient{conn: conn}, nil
}

const (
	serviceName      = "bench.Bench"
	methodPing       = "/bench.Bench/Ping"
	methodPingStruct = "/bench.Bench/PingStruct"
	methodEcho       = "/bench.Bench/Echo"
)

// benchService is the service's handler type, as protoc-gen-go-grpc would
// name it BenchServer.
type benchService interface {
	ping(context.Context, *wrapperspb.BytesValue) (*wrapperspb.BytesValue, error)
	pingStruct(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
	echo(context.Context, *wrapperspb.BytesValue) (*wrapperspb.BytesValue, error)
}

type grpcServer struct{ impl Bench }

func (s *grpcServer) ping(ctx context.Context, in *wrapperspb.BytesValue) (*wrapperspb.BytesValue, error) {
	b, err := s.impl.Ping(ctx, in.Value)
	return &wrapperspb.BytesValue{Value: b}, err
}

func (s *grpcServer) pingStruct(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	r, err := s.impl.PingStruct(ctx, in.Value)
	return &wrapperspb.StringValue{Value: r}, err
}

func (s *grpcServer) echo(ctx context.Context, in *wrapperspb.BytesValue) (*wrapperspb.BytesValue, error) {
	b, err := s.impl.Echo(ctx, in.Value)
	return &wrapperspb.BytesValue{Value: b}, err
}

// unary builds a method handler the way generated code does: decode the
// request, then call the method through the server's interceptor, if any.
func unary[Req any, Res any](full string, newReq func() Req, call func(benchService, context.Context, Req) (Res, error)) methodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		in := newReq()
		if err := dec(in); err != nil {
			return nil, err
		}
		if interceptor == nil {
			return call(srv.(benchService), ctx, in)
		}
		info := &grpc.UnaryServerInfo{Server: srv, FullMethod: full}
		return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
			return call(srv.(benchService), ctx, req.(Req))
		})
	}
}

// methodHandler is grpc.MethodDesc's Handler type (grpc.MethodHandler in
// newer releases of grpc).
type methodHandler = func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error)

var serviceDesc = grpc.ServiceDesc{
	ServiceName: serviceName,
	HandlerType: (*benchService)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Ping", Handler: unary(methodPing, func() *wrapperspb.BytesValue { return new(wrapperspb.BytesValue) }, benchService.ping)},
		{MethodName: "PingStruct", Handler: unary(methodPingStruct, func() *wrapperspb.StringValue { return new(wrapperspb.StringValue) }, benchService.pingStruct)},
		{MethodName: "Echo", Handler: unary(methodEcho, func() *wrapperspb.BytesValue { return new(wrapperspb.BytesValue) }, benchService.echo)},
	},
	Metadata: "bench.proto",
}

type grpcClient struct{ conn *grpc.ClientConn }

func (c *grpcClient) Ping(ctx context.Context, b []byte) ([]byte, error) {
	out := new(wrapperspb.BytesValue)
	err := c.conn.Invoke(ctx, methodPing, &wrapperspb.BytesValue{Value: b}, out)
	return out.Value, err
}

func (c *grpcClient) PingStruct(ctx context.Context, s string) (string, error) {
	out := new(wrapperspb.StringValue)
	err := c.conn.Invoke(ctx, methodPingStruct, &wrapperspb.StringValue{Value: s}, out)
	return out.Value, err
}

func (c *grpcClient) Echo(ctx context.Context, b []byte) ([]byte, error) {
	out := new(wrapperspb.BytesValue)
	err := c.conn.Invoke(ctx, methodEcho, &wrapperspb.BytesValue{Value: b}, out)
	return out.Value, err
}

// Impl is the workers' Bench: every method returns its input.
type Impl struct{}

// Ping returns b.
func (Impl) Ping(_ context.Context, b []byte) ([]byte, error) { return b, nil }

// PingStruct returns s.
func (Impl) PingStruct(_ context.Context, s string) (string, error) { return s, nil }

// Echo returns b.
func (Impl) Echo(_ context.Context, b []byte) ([]byte, error) { return b, nil }
