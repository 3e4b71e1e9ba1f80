package shared_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

func TestChainEmpty(t *testing.T) {
	if got := shared.Chain(nil); got != nil {
		t.Errorf("Chain(nil) = non-nil, want nil")
	}
	if got := shared.Chain([]shared.Middleware{}); got != nil {
		t.Errorf("Chain([]) = non-nil, want nil")
	}
}

// recorder returns a middleware that appends its name to *log.
func recorder(name string, log *[]string) shared.Middleware {
	return func(_ context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		*log = append(*log, fmt.Sprintf("%s %s %s", name, dir, msg.Type))
		return nil
	}
}

func TestChainOrder(t *testing.T) {
	for _, dir := range []shared.Direction{shared.Outgoing, shared.Incoming} {
		t.Run(dir.String(), func(t *testing.T) {
			var got []string
			mw := shared.Chain([]shared.Middleware{recorder("a", &got), recorder("b", &got), recorder("c", &got)})
			msg := &shared.AnyMessage{Kind: shared.KindRequest, Type: "compute", Payload: 1}
			if err := mw(context.Background(), dir, msg); err != nil {
				t.Fatalf("chain(%v) = %v, want nil", dir, err)
			}
			want := []string{"a " + dir.String() + " compute", "b " + dir.String() + " compute", "c " + dir.String() + " compute"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("middleware order (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChainCopiesSlice(t *testing.T) {
	var got []string
	mws := []shared.Middleware{recorder("a", &got)}
	mw := shared.Chain(mws)
	mws[0] = recorder("replaced", &got)
	if err := mw(context.Background(), shared.Outgoing, &shared.AnyMessage{Type: "m"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a outgoing m"}, got); diff != "" {
		t.Errorf("Chain must copy its input (-want +got):\n%s", diff)
	}
}

func TestChainSeesAndChangesMessage(t *testing.T) {
	mw := shared.Chain([]shared.Middleware{
		func(_ context.Context, _ shared.Direction, msg *shared.AnyMessage) error {
			msg.Payload = msg.Payload.(int) * 10
			if msg.Headers == nil {
				msg.Headers = map[string]string{}
			}
			msg.Headers["seen-by"] = "first"
			return nil
		},
		func(_ context.Context, _ shared.Direction, msg *shared.AnyMessage) error {
			msg.Payload = msg.Payload.(int) + 1
			msg.Headers["seen-by"] += ",second"
			return nil
		},
	})
	msg := &shared.AnyMessage{Kind: shared.KindRequest, Type: "m", TxID: "tx-1", Payload: 4}
	if err := mw(context.Background(), shared.Outgoing, msg); err != nil {
		t.Fatal(err)
	}
	want := &shared.AnyMessage{Kind: shared.KindRequest, Type: "m", TxID: "tx-1",
		Headers: map[string]string{"seen-by": "first,second"}, Payload: 41}
	if diff := cmp.Diff(want, msg); diff != "" {
		t.Errorf("message after chain (-want +got):\n%s", diff)
	}
}

var errRefused = errors.New("refused")

func TestChainError(t *testing.T) {
	tests := []struct {
		name      string
		dir       shared.Direction
		failAt    int
		wantText  string
		wantCalls []string
	}{
		{"first outgoing", shared.Outgoing, 0, `middleware 0 (outgoing "compute"): refused`, []string{"0"}},
		{"second incoming", shared.Incoming, 1, `middleware 1 (incoming "compute"): refused`, []string{"0", "1"}},
		{"last outgoing", shared.Outgoing, 2, `middleware 2 (outgoing "compute"): refused`, []string{"0", "1", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			var mws []shared.Middleware
			for i := range 3 {
				mws = append(mws, func(context.Context, shared.Direction, *shared.AnyMessage) error {
					calls = append(calls, fmt.Sprint(i))
					if i == tt.failAt {
						return errRefused
					}
					return nil
				})
			}
			err := shared.Chain(mws)(context.Background(), tt.dir, &shared.AnyMessage{Type: "compute", Payload: 1})
			if err == nil || err.Error() != tt.wantText {
				t.Fatalf("chain = %v, want %q", err, tt.wantText)
			}
			if !errors.Is(err, errRefused) {
				t.Errorf("errors.Is(%v, errRefused) = false, want true", err)
			}
			var me *shared.MiddlewareError
			if !errors.As(err, &me) {
				t.Fatalf("errors.As(%v, *MiddlewareError) = false, want true", err)
			}
			want := shared.MiddlewareError{Index: tt.failAt, Direction: tt.dir, Type: "compute", Err: errRefused}
			if diff := cmp.Diff(want, *me, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
				t.Errorf("MiddlewareError (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("middleware that ran (-want +got); later middleware must not run:\n%s", diff)
			}
		})
	}
}

func TestChainRefusesPayloadTypeChange(t *testing.T) {
	var laterRan bool
	mw := shared.Chain([]shared.Middleware{
		func(_ context.Context, _ shared.Direction, msg *shared.AnyMessage) error {
			msg.Payload = "a string now"
			return nil
		},
		func(context.Context, shared.Direction, *shared.AnyMessage) error {
			laterRan = true
			return nil
		},
	})
	err := mw(context.Background(), shared.Incoming, &shared.AnyMessage{Type: "compute", Payload: 42})
	const want = `middleware 0 (incoming "compute"): replaced payload of type int with string`
	if err == nil || err.Error() != want {
		t.Errorf("chain = %v, want %q", err, want)
	}
	var me *shared.MiddlewareError
	if !errors.As(err, &me) || me.Index != 0 {
		t.Errorf("errors.As(%v, *MiddlewareError) = %v, index %v; want true, 0", err, me != nil, me)
	}
	if laterRan {
		t.Errorf("middleware after the refused replacement ran")
	}
}

func TestChainAllowsSameTypeOrNilPayload(t *testing.T) {
	tests := []struct {
		name    string
		before  any
		replace any
		wantPay any
	}{
		{"same type", 1, 2, 2},
		{"nil before", nil, "set", "set"},
		{"nil after", 1, nil, nil},
		{"pointer same type", &payload{Name: "a"}, &payload{Name: "b"}, &payload{Name: "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw := shared.Chain([]shared.Middleware{func(_ context.Context, _ shared.Direction, msg *shared.AnyMessage) error {
				msg.Payload = tt.replace
				return nil
			}})
			msg := &shared.AnyMessage{Type: "m", Payload: tt.before}
			if err := mw(context.Background(), shared.Outgoing, msg); err != nil {
				t.Fatalf("chain = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.wantPay, msg.Payload); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKindAndDirectionString(t *testing.T) {
	tests := []struct {
		v    fmt.Stringer
		want string
	}{
		{shared.KindRequest, "request"},
		{shared.KindResult, "result"},
		{shared.KindError, "error"},
		{shared.KindCancel, "cancel"},
		{shared.KindEvent, "event"},
		{shared.Kind(99), "kind(99)"},
		{shared.Outgoing, "outgoing"},
		{shared.Incoming, "incoming"},
		{shared.Direction(0), "direction(0)"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.v, got, tt.want)
		}
	}
}
