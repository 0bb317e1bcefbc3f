package access

// PreviewChange is one member's decision on one subject before and after a proposed
// change of the rules. Subject.ID 0 stands for the kind in Subject.Project: the level on
// an object of the kind that no object rule names (and that the member did not create).
type PreviewChange struct {
	User          int64
	Subject       Object
	Before, After Decision
}

// Gains reports whether the member's level rises.
func (c PreviewChange) Gains() bool { return c.After.Level > c.Before.Level }

// Loses reports whether the member's level falls.
func (c PreviewChange) Loses() bool { return c.After.Level < c.Before.Level }

// Preview compares what before and after (the same organization's facts, compiled for
// the same instant, without and with a proposed change) decide on each subject for every
// member of either, and returns the decisions whose level differs, subject by subject in
// the order given, members in the order of Facts.Members (before's, then those only
// after has). A change of source alone is left out: nobody gains or loses by it.
// Only what asker may learn is returned (MayPreview).
func Preview(before, after *Snapshot, asker int64, subjects []Object) []PreviewChange {
	users := make([]int64, 0, len(before.members))
	for _, m := range before.members {
		users = append(users, m.User)
	}
	for _, m := range after.members {
		if before.memberTab.find(m.User) == noMember {
			users = append(users, m.User)
		}
	}
	var out []PreviewChange
	for _, o := range subjects {
		self, others := before.MayPreview(asker, o)
		if !self {
			continue // the subject is hidden from asker
		}
		for _, u := range users {
			if u != asker && !others {
				continue
			}
			b, a := before.previewDecide(u, o), after.previewDecide(u, o)
			if a.Level != b.Level {
				out = append(out, PreviewChange{User: u, Subject: o, Before: b, After: a})
			}
		}
	}
	return out
}

func (s *Snapshot) previewDecide(user int64, o Object) Decision {
	if o.ID == 0 {
		return s.KindLevel(user, o.Project, o.Kind)
	}
	return s.Decide(user, o)
}
