package access

// Explain returns one line telling a person why they have d on o ("why do I have access"),
// e.g. "editor through role 'product' on this feature flag". d should come from s.Decide or
// s.KindLevel; a role unknown to s is named by its id.
func (s *Snapshot) Explain(d Decision, o Object) string {
	return string(s.AppendExplain(nil, d, o))
}

// AppendExplain appends Explain's line to dst: a batch of decisions can explain each
// one into the same buffer without allocating.
func (s *Snapshot) AppendExplain(dst []byte, d Decision, o Object) []byte {
	return s.appendExplained(dst, s.ExplainKey(d, o))
}

// ExplainKey is all that Explain's line for decision d on object o depends on besides
// the snapshot: decisions with equal keys are explained by the same line, so a batch of
// decisions can write each line it repeats once (the line is made from the key alone).
type ExplainKey struct {
	d    Decision
	kind Kind
	// onObject: a member rule of d's was on the object itself, not on its kind.
	onObject bool
}

// ExplainKey returns the key of Explain's line for d on o.
func (s *Snapshot) ExplainKey(d Decision, o Object) ExplainKey {
	// The decision does not say whether the member rule was on the object or on the kind;
	// an object with member rules is the one place where it can have been on the object.
	return ExplainKey{d: d, kind: o.Kind, onObject: d.Source == SourceExplicitMember && s.hasMemberRules(o)}
}

// appendExplained appends the line of k to dst.
func (s *Snapshot) appendExplained(dst []byte, k ExplainKey) []byte {
	d, noun := k.d, k.kind.Noun()
	switch d.Source {
	case SourceOrganization:
		return append(dst, "no access: you are not a member of this organization"...)
	case SourceProject:
		return append(dst, "no access: this project's access rules leave you out; ask a project admin"...)
	case SourceCreator:
		return append(append(dst, "manager: you created this "...), noun...)
	case SourceOrganizationAdmin:
		return append(dst, "manager: organization admin"...)
	case SourceProjectAdmin:
		return append(dst, "manager: project admin"...)
	case SourceExplicitMember:
		dst = append(dst, levelPhrase(d.Level)...)
		if k.onObject {
			dst = append(append(dst, " through a rule for you on this "...), noun...)
		} else {
			dst = append(append(append(dst, " through a rule for you on "...), noun...), 's')
		}
	case SourceExplicitRole:
		dst = append(append(append(dst, levelPhrase(d.Level)...), " through role '"...), s.roleName(d.Role)...)
		dst = append(append(dst, "' on this "...), noun...)
	case SourceObjectDefault:
		dst = append(append(append(dst, levelPhrase(d.Level)...), ": this "...), noun...)
		dst = append(dst, "'s rule for everyone"...)
	case SourceOrganizationDefault:
		dst = append(append(append(dst, levelPhrase(d.Level)...), ": organization default for "...), noun...)
		dst = append(dst, 's')
	case SourceRole:
		dst = append(append(append(dst, levelPhrase(d.Level)...), " through role '"...), s.roleName(d.Role)...)
		dst = append(append(append(dst, "' for "...), noun...), 's')
	case SourceDefault:
		dst = append(dst, levelPhrase(d.Level)...)
		if !s.enforced {
			return append(dst, ": role-based access is not part of this organization's plan"...)
		}
		return append(dst, ": every member's default"...)
	default:
		return append(dst, levelPhrase(d.Level)...)
	}
	if d.Level < Editor {
		dst = append(append(append(dst, "; ask an admin or the "...), noun...), "'s creator"...)
	}
	return dst
}
func levelPhrase(l Level) string {
	switch l {
	case None:
		return "no access"
	case Viewer:
		return "view only"
	}
	return l.String()
}

func (s *Snapshot) roleName(id string) string {
	if ri, ok := s.roleIdx[id]; ok && s.roleNames[ri] != "" {
		return s.roleNames[ri]
	}
	return id
}

func (s *Snapshot) hasMemberRules(o Object) bool {
	if o.Kind >= NumKinds {
		return false
	}
	rs := s.objects.find(o.Kind, o.ID)
	for i := range rs.len() {
		if rs.at(i).rank == rankMember {
			return true
		}
	}
	return false
}
