package sqlstore

import (
	"testing"

	"github.com/gatehouse/gatehouse/access"
)

func TestHeadTable(t *testing.T) {
	var tab headTable
	head := func(id int64) access.Object {
		return access.Object{ID: id, Kind: access.Kind(id % int64(access.NumKinds)), Project: id%7 + 1, Creator: id % 5}
	}
	kept := []int64{1, headsPerPage - 1, headsPerPage, headsPerPage + 1, 5 * headsPerPage, maxHeadID}
	for _, id := range kept {
		tab.put(head(id))
	}
	for _, id := range kept {
		if h, ok := tab.get(id); !ok || h != head(id) {
			t.Errorf("get(%d) = %+v, %v; want %+v", id, h, ok, head(id))
		}
	}
	// Not kept: what is not an id, or is past the bound.
	for _, id := range []int64{0, -1, -headsPerPage, maxHeadID + 1, 1 << 62} {
		tab.put(access.Object{ID: id, Project: 1})
	}
	// Not found: those, and ids never put beside kept ones.
	for _, id := range []int64{0, -1, -headsPerPage, maxHeadID + 1, 1 << 62, 2, headsPerPage + 2, 5*headsPerPage + 1, 3 * headsPerPage} {
		if h, ok := tab.get(id); ok {
			t.Errorf("get(%d) = %+v, want none", id, h)
		}
	}
	tab.delete(headsPerPage)
	if _, ok := tab.get(headsPerPage); ok {
		t.Errorf("get after delete found the head")
	}
	if h, ok := tab.get(headsPerPage + 1); !ok || h != head(headsPerPage+1) {
		t.Errorf("delete took its neighbour: get = %+v, %v", h, ok)
	}

	// Full: a head that needs a page empties the table first; one on a page it has
	// does not.
	tab.clear()
	for p := range maxHeadPages {
		tab.put(head(int64(p)*headsPerPage + 3))
	}
	if tab.used != maxHeadPages {
		t.Fatalf("used = %d pages, want %d", tab.used, maxHeadPages)
	}
	tab.put(head(7)) // page 0, allocated
	if _, ok := tab.get(headsPerPage + 3); !ok || tab.used != maxHeadPages {
		t.Errorf("a head on an allocated page emptied the table (used %d)", tab.used)
	}
	far := int64(maxHeadPages+10)*headsPerPage + 1
	tab.put(head(far))
	if _, ok := tab.get(3); ok || tab.used != 1 {
		t.Errorf("a full table kept its heads when a new page was needed (used %d)", tab.used)
	}
	if h, ok := tab.get(far); !ok || h != head(far) {
		t.Errorf("get(%d) after emptying = %+v, %v", far, h, ok)
	}
}
