package access

import (
	"math/rand/v2"
	"testing"
)

// universeObjects are the objects of the fuzzed universe: every kind (one unknown), project,
// id (one without rules) and creator (none, every user).
func universeObjects() []Object {
	var objs []Object
	for p := int64(0); p <= fuzzProjects; p++ {
		for k := range Kind(fuzzKinds) + 1 {
			if k == fuzzKinds {
				k = NumKinds // unknown
			}
			for id := int64(1); id <= fuzzObjects+1; id++ {
				for c := int64(0); c <= fuzzUsers; c++ {
					objs = append(objs, Object{ID: id, Kind: k, Project: p, Creator: c})
				}
			}
		}
	}
	return objs
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}

// checkFilter fails t unless Filter(u, objs, min) sets exactly the objects Decide gives at
// least min, clears the rest of a dirty out, and counts what it set.
func checkFilter(t *testing.T, s *Snapshot, u int64, objs []Object, min Level) {
	t.Helper()
	out := make([]uint64, (len(objs)+63)/64)
	for i := range out {
		out[i] = 0xdeadbeefdeadbeef // Filter must clear what it does not set
	}
	n := s.Filter(u, objs, min, out)
	want := 0
	for i, o := range objs {
		d := s.Decide(u, o)
		got := out[i/64]&(1<<(i%64)) != 0
		if got != (d.Level >= min) {
			t.Fatalf("Filter(%d, …, %v) bit %d = %v, but Decide(%d, %+v) = %+v", u, min, i, got, u, o, d)
		}
		if got {
			want++
		}
	}
	if n != want {
		t.Fatalf("Filter(%d, …, %v) = %d, want %d (the bits it set)", u, min, n, want)
	}
	if r := len(objs) % 64; r != 0 && out[len(out)-1]>>r != 0 {
		t.Fatalf("Filter(%d, …, %v) set bits past the last object", u, min)
	}
}

func FuzzFilter(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		{1, 1, 1, 1, 4, 5, 0, 2, 1, 1, 2, 3, 1, 1, 1, 1, 1, 1, 1, 5, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0},
		{3, 1, 2, 3, 1, 1, 1, 3, 2, 1, 0, 3, 2, 1, 1, 0, 1, 0, 1, 20, 2, 0, 0, 1, 2, 0, 1, 3, 0, 1, 0, 1, 0, 2, 1},
		[]byte("seed: a closed project with a role let in and an object made private"),
	} {
		f.Add(seed)
	}
	objs := universeObjects()
	// Shuffled too, so that runs of one project are broken up.
	shuffled := append([]Object(nil), objs...)
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	spreadObjs := spreadObjects(objs)
	f.Fuzz(func(t *testing.T, data []byte) {
		s := Compile(fuzzFacts(data))
		for u := int64(0); u <= fuzzUsers; u++ {
			for min := None; min <= Manager+1; min++ {
				checkFilter(t, s, u, objs, min)
				checkFilter(t, s, u, shuffled, min)
				checkFilter(t, s, u, shuffled[:37], min)
				checkFilter(t, s, u, nil, min)
			}
		}
		// The same with ids far apart: hashed filters instead of dense ones.
		s = Compile(spreadFacts(fuzzFacts(data)))
		for u := int64(0); u <= fuzzUsers; u++ {
			checkFilter(t, s, u, spreadObjs, Viewer)
			checkFilter(t, s, u, spreadObjs, Editor)
		}
	})
}

// spread maps the fuzz universe's small ids far apart, some negative, so that
// filters of objects with rules are hashed rather than dense.
func spread(id int64) int64 { return id*1_000_000_007 - 3_000_000_000 }

func spreadObjects(objs []Object) []Object {
	out := append([]Object(nil), objs...)
	for i := range out {
		out[i].ID = spread(out[i].ID)
	}
	return out
}

func spreadFacts(f Facts) Facts {
	f.Rules = append([]Rule(nil), f.Rules...)
	for i := range f.Rules {
		if f.Rules[i].Scope == ScopeObject {
			f.Rules[i].Object = spread(f.Rules[i].Object)
		}
	}
	return f
}

func TestFilterAgreesWithDecide(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	objs := universeObjects()
	for range 200 {
		f := fuzzFacts(randomBytes(rng, rng.IntN(120)))
		s := Compile(f)
		for u := int64(0); u <= fuzzUsers; u++ {
			for min := None; min <= Manager; min++ {
				checkFilter(t, s, u, objs, min)
			}
		}
	}

	org := benchFacts(1000, 50, 100_000, 20_000)
	s := Compile(org.facts)
	big := make([]Object, 10_000)
	for i := range big {
		big[i] = org.pairs[i].object
	}
	for u := int64(1); u <= 1020; u += 17 { // admins, members and strangers
		checkFilter(t, s, u, big, Viewer)
		checkFilter(t, s, u, big, Editor)
	}
}

func TestFilterDoesNotAllocate(t *testing.T) {
	org := benchFacts(200, 20, 10_000, 2_000)
	s := Compile(org.facts)
	objs := make([]Object, 1_000)
	for i := range objs {
		objs[i] = org.pairs[i].object
	}
	out := make([]uint64, (len(objs)+63)/64)
	if n := testing.AllocsPerRun(100, func() { s.Filter(7, objs, Editor, out) }); n != 0 {
		t.Errorf("Filter allocates %v times per call, want 0", n)
	}
}

func TestFilterShortOutputPanics(t *testing.T) {
	s := Compile(exampleFacts())
	defer func() {
		if recover() == nil {
			t.Errorf("Filter with too short an out did not panic")
		}
	}()
	s.Filter(bob, make([]Object, 65), Viewer, make([]uint64, 1))
}

// TestFilterAgreesWithDecideSpread is TestFilterAgreesWithDecide with the
// objects' ids spread far apart, some negative, so that the filters of
// objects with rules are hashed rather than dense.
func TestFilterAgreesWithDecideSpread(t *testing.T) {
	objs := spreadObjects(universeObjects())
	rng := rand.New(rand.NewPCG(7, 8))
	hashed := 0
	for range 200 {
		s := Compile(spreadFacts(fuzzFacts(randomBytes(rng, rng.IntN(120)))))
		for k := range NumKinds {
			if t := &s.objects.kinds[k]; t.n > 1 && !t.dense {
				hashed++
			}
		}
		for u := int64(0); u <= fuzzUsers; u++ {
			for min := None; min <= Manager; min++ {
				checkFilter(t, s, u, objs, min)
			}
		}
	}
	if hashed == 0 {
		t.Fatal("no snapshot had a hashed filter: the test tests nothing")
	}
}
