#!/usr/bin/env python3
"""Start moto's AWS-API server for s3central's tests: moto_server.py -H 127.0.0.1 -p PORT.

Started by moto_start in scripts/moto-env.sh from .venv-moto (moto 5.1.22). It hands its
arguments to moto's own server entry point after the test-only fixes below. Never work around
moto in the product itself.

Test-only fix: moto 5.1.22 answers GetBucketReplication with a fixed template that drops most of
what was stored (the rule's Filter prefix, SourceSelectionCriteria, AccessControlTranslation,
EncryptionConfiguration, StorageClass, ReplicationTime, Metrics, and the real
DeleteMarkerReplication status). `s3central setup` reads the configuration back and compares
every field, as it must against AWS; so the template is replaced here by one that returns the
configuration as it was stored.

Multipart part size: moto refuses parts under 5 MiB (EntityTooSmall) unless the environment
variable S3_UPLOAD_PART_MIN_SIZE (bytes) is lowered. In 5.1.22 it is read ONCE, when
moto.settings is imported, so it must be in this process's environment at start; scripts/test
sets it.

Test-only fix: moto 5.1.22 answers GetBucketNotificationConfiguration of a bucket without one
with an empty body, which aws-sdk-rust cannot parse (S3 answers an empty
<NotificationConfiguration/>); empty_notification_configuration answers as S3 does.

Test-only fixes below also: bucket-policy statements with conditions (conditional_statements_skipped)
and tags on a copy made by another account than the tags' writer (cross_account_copy_keeps_tags).

Replication and S3 Batch Operations (S3 Control jobs): emulated by the package moto_ext beside this
file (scripts/moto_ext/), installed below; its docstring lists every control (environment
variables and /moto-api/replication/..., /moto-api/batch/... endpoints) and each module says what
it emulates from which AWS page and what only AWS can prove.
"""

import sys

import moto.s3.responses
from moto.server import main

import moto_ext  # beside this file (scripts/moto_ext/)

REPLICATION_AS_STORED = """<?xml version="1.0" encoding="UTF-8"?>
<ReplicationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
{% for rule in replication["Rule"] %}
<Rule>
  <ID>{{ rule["ID"] }}</ID>
  <Priority>{{ rule["Priority"] }}</Priority>
  <Status>{{ rule["Status"] }}</Status>
  <DeleteMarkerReplication>
    <Status>{{ (rule.get("DeleteMarkerReplication") or {}).get("Status", "Disabled") }}</Status>
  </DeleteMarkerReplication>
  <Filter>
    <Prefix>{{ (rule.get("Filter") or {}).get("Prefix") or "" }}</Prefix>
  </Filter>
  {% set ssc = (rule.get("SourceSelectionCriteria") or {}).get("SseKmsEncryptedObjects") %}
  {% if ssc %}
  <SourceSelectionCriteria><SseKmsEncryptedObjects><Status>{{ ssc["Status"] }}</Status></SseKmsEncryptedObjects></SourceSelectionCriteria>
  {% endif %}
  {% set d = rule["Destination"] %}
  <Destination>
    <Bucket>{{ d["Bucket"] }}</Bucket>
    {% if d.get("Account") %}<Account>{{ d["Account"] }}</Account>{% endif %}
    {% if d.get("StorageClass") %}<StorageClass>{{ d["StorageClass"] }}</StorageClass>{% endif %}
    {% if d.get("AccessControlTranslation") %}<AccessControlTranslation><Owner>{{ d["AccessControlTranslation"]["Owner"] }}</Owner></AccessControlTranslation>{% endif %}
    {% if d.get("EncryptionConfiguration") %}<EncryptionConfiguration><ReplicaKmsKeyID>{{ d["EncryptionConfiguration"]["ReplicaKmsKeyID"] }}</ReplicaKmsKeyID></EncryptionConfiguration>{% endif %}
    {% if d.get("ReplicationTime") %}<ReplicationTime><Status>{{ d["ReplicationTime"]["Status"] }}</Status><Time><Minutes>{{ d["ReplicationTime"]["Time"]["Minutes"] }}</Minutes></Time></ReplicationTime>{% endif %}
    {% if d.get("Metrics") %}<Metrics><Status>{{ d["Metrics"]["Status"] }}</Status>{% if d["Metrics"].get("EventThreshold") %}<EventThreshold><Minutes>{{ d["Metrics"]["EventThreshold"]["Minutes"] }}</Minutes></EventThreshold>{% endif %}</Metrics>{% endif %}
  </Destination>
</Rule>
{% endfor %}
<Role>{{ replication["Role"] }}</Role>
</ReplicationConfiguration>
"""

def conditional_statements_skipped():
    """Test-only fix: moto evaluates a bucket policy's statements on object calls but ignores their
    Condition blocks, so a statement such as "Deny s3:* when aws:SecureTransport is false" (which
    every central bucket policy has) denies every request, and "Allow ... when aws:PrincipalOrgID"
    allows everyone. moto cannot evaluate conditions, so statements that carry one are left out of
    its check here; unconditional statements keep moto's behaviour (the tests use an unconditional
    Deny to make one key fail). Permissions are proven on a real policy evaluator instead
    (tests/it/matrix.rs), never on this server."""
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self, action, resource):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        try:
            doc = json.loads(self.policy.decode())
        except ValueError:
            return PermissionResult.NEUTRAL
        statements = doc.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        kept = [s for s in statements if not s.get("Condition")]
        if not kept:
            return PermissionResult.NEUTRAL
        doc["Statement"] = kept
        return IAMPolicy(json.dumps(doc)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission


def cross_account_copy_keeps_tags():
    """Test-only fix: moto files object tags under the backend (account) of the caller that wrote
    them, and CopyObject copies tags only from the CALLER's backend. So a copy made by another
    account than the one whose backend holds the source's tags (a restore role in a source account
    copying a replica out of the central bucket, whose tags the replicator filed under the central
    account) arrives without tags, where S3 copies them (x-amz-tagging-directive COPY, the
    default). After moto's copy, a copy that got no tags takes the source version's tags from
    wherever they are filed (moto_ext.replication.tags_of); a REPLACE directive still replaces them
    afterwards, as moto's response layer does."""
    from moto.s3.models import S3Backend
    from moto_ext.replication import tags_of

    original = S3Backend.copy_object

    def copy_object(self, src_key, dest_bucket_name, dest_key_name, *args, **kwargs):
        new_key = original(self, src_key, dest_bucket_name, dest_key_name, *args, **kwargs)
        bucket = self.get_bucket(dest_bucket_name)
        dest = bucket.keys.get(dest_key_name) if new_key is None else new_key
        if dest is not None and not self.tagger.get_tag_dict_for_resource(dest.arn):
            tags = tags_of(src_key)
            if tags:
                self.tagger.tag_resource(dest.arn, self.tagger.convert_dict_to_tags_input(tags))
        return new_key

    S3Backend.copy_object = copy_object


def listing_without_deep_copies():
    """Test-only speed fix: moto 5.1.22's ListObjectVersions deep-copies EVERY version of the
    bucket (whatever the prefix) on every page, only to set is_latest on the copies. A FakeKey's
    deep copy reads its whole body and writes it into a new temporary file
    (FakeKey.__getstate__/__setstate__), a delete marker's copies the key it points to, and every
    copy is appended to the class's instances_tracked list (moto.core.common_models.BaseModel), so
    none is ever freed: at 6,000 versions one page took ~0.75 s, and the server grew by the bucket's
    size on every page. Here the copies are views instead: each reads every attribute from the
    version it stands for and holds only its own is_latest, is not tracked, and never disposes the
    stored version's body. The listing's entries, their order and every field are unchanged."""
    import copy as real_copy
    import types

    from moto.s3 import models

    def view_of(base):
        class View(base):
            __module__ = models.__name__  # moto's model registry files classes by module

            def __new__(cls, stored):  # not BaseModel.__new__: no instances_tracked entry
                return object.__new__(cls)

            def __init__(self, stored):
                self.__dict__["_stored"] = stored

            def __getattr__(self, name):
                return getattr(self.__dict__["_stored"], name)

            def dispose(self, garbage=False):  # the body is the stored version's
                pass

            def __del__(self):
                pass

        return View

    views = {models.FakeKey: view_of(models.FakeKey),
             models.FakeDeleteMarker: view_of(models.FakeDeleteMarker)}

    def deepcopy(versions, memo=None):
        # Only list_object_versions calls models.copy.deepcopy, on one key's list of versions.
        if isinstance(versions, list) and all(type(v) in views for v in versions):
            return [views[type(v)](v) for v in versions]
        return real_copy.deepcopy(versions, memo)

    models.copy = types.SimpleNamespace(copy=real_copy.copy, deepcopy=deepcopy)


def empty_notification_configuration():
    """GetBucketNotificationConfiguration without a configuration: an empty one, as S3 answers."""
    real = moto.s3.responses.S3Response.get_bucket_notification

    def get_bucket_notification(self):
        body = real(self)
        return body or (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
        )

    moto.s3.responses.S3Response.get_bucket_notification = get_bucket_notification


if __name__ == "__main__":
    moto.s3.responses.S3_REPLICATION_CONFIG = REPLICATION_AS_STORED
    empty_notification_configuration()
    listing_without_deep_copies()
    conditional_statements_skipped()
    cross_account_copy_keeps_tags()
    moto_ext.install()  # replication and S3 Batch Operations, see moto_ext/__init__.py
    sys.exit(main(sys.argv[1:]))
