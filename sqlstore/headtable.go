package sqlstore

import "github.com/gatehouse/gatehouse/access"

// headTable holds the cache's heads by id. Every resource's id comes from one
// sequence, so the heads a server reads sit close together: kept in pages of
// headsPerPage consecutive ids, a head is found with two indexed reads, where
// a map hashed the id and probed its groups (a batch check finds 100 heads a
// request, and the map's lookups were 5 % of the server's time under batch
// checks). Dense, a head costs its 32 bytes, against about 100 in the map.
//
// A page is allocated for the first head kept in it, so that heads read far
// apart (a workspace of millions of resources read at random) each cost a page:
// the table counts pages against maxHeadPages, and like every cache map it is
// emptied when full, which costs a round of misses and never a wrong answer.
// Ids past maxHeadID are not kept at all, so that the index of pages stays
// small (8 MB of pointers at most, a few kilobytes in practice).
type headTable struct {
	pages []*headPage // by id / headsPerPage
	used  int         // pages allocated
}

// headPage holds the heads of headsPerPage consecutive ids; a zero ID is a
// head not kept (ids are positive).
type headPage [headsPerPage]access.Object

const (
	headsPerPage = 256
	// maxHeadPages bounds the table at 32 MB: a million heads when they are
	// dense, as in one workspace read through.
	maxHeadPages = 4096
	maxHeadID    = 1<<28 - 1
)

// get returns the head of id; ok is false when it is not kept.
func (t *headTable) get(id int64) (h access.Object, ok bool) {
	if p := uint64(id) / headsPerPage; p < uint64(len(t.pages)) {
		if pg := t.pages[p]; pg != nil {
			h = pg[id%headsPerPage]
		}
	}
	return h, h.ID != 0
}

// put keeps h, first emptying the table when it needs a page and has no more.
func (t *headTable) put(h access.Object) {
	if h.ID <= 0 || h.ID > maxHeadID {
		return
	}
	p := int(h.ID / headsPerPage)
	if p >= len(t.pages) {
		t.pages = append(t.pages, make([]*headPage, p+1-len(t.pages))...)
	}
	if t.pages[p] == nil {
		if t.used >= maxHeadPages {
			t.clear()
		}
		t.pages[p] = new(headPage)
		t.used++
	}
	t.pages[p][h.ID%headsPerPage] = h
}

// delete forgets the head of id.
func (t *headTable) delete(id int64) {
	if p := uint64(id) / headsPerPage; p < uint64(len(t.pages)) && t.pages[p] != nil {
		t.pages[p][id%headsPerPage] = access.Object{}
	}
}

// clear forgets every head. The index of pages is kept: it is as long as the
// largest id seen, and will be again.
func (t *headTable) clear() {
	clear(t.pages)
	t.used = 0
}
