package server

import (
	"context"

	"github.com/gatehouse/gatehouse/access"
)

// visibleObjects returns those of ids that name objects c's caller may view, in the
// order given, each once. It is the one filter that every derived view (a role's
// associated flags, the activity log, …) passes object ids through before it names one
// (docs/access-model.md, "Derived views show only what the reader may view"), so that no
// view decides visibility its own way:
//   - an object of one of the organization's projects is kept when the caller's snapshot
//     lets them view it (not level none, not in a project closed to them);
//   - an object of another organization's project is never kept;
//   - an id that names no object (deleted since the view's rows were written) is kept
//     only for organization admins, who may view every object: nobody else can be shown
//     to have been allowed to see it, and its rules are gone from the snapshot.
func (s *Server) visibleObjects(ctx context.Context, c *call, ids []int64) ([]int64, error) {
	if len(ids) == 0 {
		return []int64{}, nil
	}
	heads, err := s.store.HeadsByID(ctx, nil, ids)
	if err != nil {
		return nil, err
	}
	ps, err := s.store.Projects(ctx, c.org.ID)
	if err != nil {
		return nil, err
	}
	ours := make(map[int64]bool, len(ps))
	for _, p := range ps {
		ours[p.ID] = true
	}
	objs := make([]access.Object, 0, len(heads))
	found := make(map[int64]bool, len(heads))
	for _, h := range heads {
		found[h.ID] = true
		if ours[h.Project] {
			objs = append(objs, h)
		}
	}
	bits := make([]uint64, (len(objs)+63)/64)
	c.snap.Filter(c.user.ID, objs, access.Viewer, bits)
	visible := make(map[int64]bool, len(objs))
	for i, o := range objs {
		if bits[i/64]&(1<<(i%64)) != 0 {
			visible[o.ID] = true
		}
	}
	gone := access.IsAdmin(c.membership())
	out := make([]int64, 0, len(ids))
	seen := make(map[int64]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if visible[id] || !found[id] && gone {
			out = append(out, id)
		}
	}
	return out, nil
}
