"""Web Access Control as Fedora 6's WebAC module computes it: effective ACLs, agents' modes, decisions

The package face: the effective ACL of a resource, each agent's modes there, and whether a
request may proceed. model.py holds the vocabulary and data types, graphs.py reads ACL graphs,
policy.py evaluates them.

One :class:`Policy` decides for both ``fcrctl acl effective`` and ``fcrctl serve``'s per-request
authorization, so what the CLI says is what the server does. Fedora's rules, followed here:

- The effective ACL is the resource's own ACL when it has at least one ``acl:Authorization``;
  else the nearest ancestor's whose authorizations carry ``acl:default`` (only those count);
  else the root default (``serve --root-acl``; without one nobody but admins may do anything).
- An authorization applies when its ``acl:accessTo`` names the resource or the ACL-bearing
  ancestor (with the root default: any ancestor), or its ``acl:accessToClass`` names an
  ``rdf:type`` of either. A resource that does not exist yet (PUT to create it) is judged by
  its nearest existing ancestor's effective ACL, all of whose authorizations count.
- Agents: ``acl:agent`` values as written (a literal ``"alice"`` or a URI; a URI under the user
  base URI also counts as the bare name), members (``vcard:hasMember``) of ``acl:agentGroup``
  resources typed ``vcard:Group``, ``acl:agentClass foaf:Agent`` (everyone) and
  ``acl:AuthenticatedAgent`` (every signed-in user). Modes are exact: Write does not imply
  Append, nor Control Read.
- Methods: GET/HEAD/OPTIONS need Read (and Read on every child when embedding them), PUT Write
  (Append on the parent's rules to create), POST Write or Append (not to a binary), PATCH Write
  or Append with an update that deletes nothing, DELETE Write on the resource and everything
  below it; every method on ``fcr:acl`` needs Control. Writes into a direct or indirect
  container also need Write on its membership resource. MOVE (Fedora 6 has none) needs what a
  DELETE of the source and a PUT creating the destination need; COPY Read on the source and
  the PUT; both Control at the destination when they carry an ACL there.
"""

from fcrctl.acl.graphs import acl_id_of, authorizations, check_acl, update_deletes
from fcrctl.acl.model import (
    ACL,
    ACL_SUFFIX,
    APPEND,
    AUTHENTICATED,
    AUTHENTICATED_AGENT,
    AUTHORIZATION,
    CACHE_SECONDS,
    CONTROL,
    EVERYONE,
    FOAF_AGENT,
    METHODS,
    MODE_NAMES,
    MODES,
    RDF_TYPE,
    READ,
    VCARD,
    WEBAC_ACL,
    WRITE,
    Authorization,
    Effective,
    Request,
    agent_modes,
)
from fcrctl.acl.policy import Policy

__all__ = [
    "ACL", "ACL_SUFFIX", "APPEND", "AUTHENTICATED", "AUTHENTICATED_AGENT", "AUTHORIZATION", "CACHE_SECONDS", "CONTROL",
    "EVERYONE", "FOAF_AGENT", "METHODS", "MODES", "MODE_NAMES", "RDF_TYPE", "READ", "VCARD", "WEBAC_ACL", "WRITE",
    "Authorization", "Effective", "Policy", "Request", "acl_id_of", "agent_modes", "authorizations", "check_acl",
    "update_deletes",
]
