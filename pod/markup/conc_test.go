package markup

import (
	"reflect"
	"sync"
	"testing"
)

// TestConcurrentRender renders from several goroutines at once: the shared
// goldmark and bluemonday instances must hold no per-call state (run with
// -race), and each result must equal the one rendered alone.
func TestConcurrentRender(t *testing.T) {
	srcs := []string{typicalPost, "a[^n]\n\n[^n]: b #t", "@{A; a@example.org} [x](https://e.example)", bigPost()}
	opts := []Options{{PersonURL: people}, {IDPrefix: "one"}, {IDPrefix: "two", PersonURL: people}, {}}
	want := make([][]Rendered, len(srcs))
	for i, src := range srcs {
		for _, o := range opts {
			want[i] = append(want[i], render(t, src, o))
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for k := 0; k < 5; k++ {
				i, j := (g+k)%len(srcs), (g*k)%len(opts)
				got, err := Render(srcs[i], opts[j])
				if err != nil || !reflect.DeepEqual(got, want[i][j]) {
					t.Errorf("goroutine %d: render of source %d with options %d differs (%v)", g, i, j, err)
				}
			}
		})
	}
	wg.Wait()
}
