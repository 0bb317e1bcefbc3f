package access

// Explain returns one line telling a person why they have d on o ("why do I have access"),
// e.g. "editor through role 'product' on this feature flag". d should come from s.Decide or
// s.KindLevel; a role unknown to s is named by its id.
func (s *Snapshot) Explain(d Decision, o Object) string {
	noun := o.Kind.Noun()
	var line string
	switch d.Source {
	case SourceOrganization:
		return "no access: you are not a member of this organization"
	case SourceProject:
		return "no access: this project's access rules leave you out; ask a project admin"
	case SourceCreator:
		return "manager: you created this " + noun
	case SourceOrganizationAdmin:
		return "manager: organization admin"
	case SourceProjectAdmin:
		return "manager: project admin"
	case SourceExplicitMember:
		// The decision does not say whether the member rule was on the object or on the kind;
		// an object with member rules is the one place where it can have been on the object.
		if s.hasMemberRules(o) {
			line = levelPhrase(d.Level) + " through a rule for you on this " + noun
		} else {
			line = levelPhrase(d.Level) + " through a rule for you on " + noun + "s"
		}
	case SourceExplicitRole:
		line = levelPhrase(d.Level) + " through role '" + s.roleName(d.Role) + "' on this " + noun
	case SourceObjectDefault:
		line = levelPhrase(d.Level) + ": this " + noun + "'s rule for everyone"
	case SourceOrganizationDefault:
		line = levelPhrase(d.Level) + ": organization default for " + noun + "s"
	case SourceRole:
		line = levelPhrase(d.Level) + " through role '" + s.roleName(d.Role) + "' for " + noun + "s"
	case SourceDefault:
		if !s.enforced {
			return levelPhrase(d.Level) + ": role-based access is not part of this organization's plan"
		}
		return levelPhrase(d.Level) + ": every member's default"
	default:
		return levelPhrase(d.Level)
	}
	if d.Level < Editor {
		line += "; ask an admin or the " + noun + "'s creator"
	}
	return line
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
