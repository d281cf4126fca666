"""Which GLUE attributes may carry several values (the rest are SINGLE-VALUE).

The GLUE 1.3 (``Glue-*.schema``) and GLUE 2 (``GLUE20.schema``) LDAP schemas,
as shipped by the glue-schema package, declare every attribute SINGLE-VALUE
except the ones listed here (taken from those files; a test compares this list
with the installed schema). A consumer that takes "the" value of a
single-valued attribute must not silently pick one of several
(:meth:`gridready.sources.bdii.Entry.first` refuses to).

Attributes that are not GLUE's (``objectClass``, ``o``...) are
treated as multi-valued: nothing here claims to know their schema.
"""

from __future__ import annotations

MULTI_VALUED: frozenset[str] = frozenset(name.lower() for name in (
    # Glue-CORE.schema
    "GlueChunkKey", "GlueForeignKey", "GlueServiceOwner", "GlueServiceAccessControlRule",
    "GlueServiceAccessControlBaseRule", "GlueSiteSponsor", "GlueSiteOtherInfo",
    # Glue-CE.schema
    "GlueCECapability", "GlueCEInfoContactString", "GlueCEAccessControlBaseRule",
    "GlueClusterService", "GlueHostApplicationSoftwareRunTimeEnvironment",
    "GlueHostLocalFileSystemClient", "GlueHostRemoteFileSystemServer",
    # Glue-CESEBind.schema
    "GlueCESEBindGroupSEUniqueID", "GlueCESEBindMountInfo", "GlueCESEBindWeight",
    # Glue-SE.schema
    "GlueSEHostingSL", "GlueSEAccessProtocolSupportedSecurity", "GlueSEAccessProtocolCapability",
    "GlueSEControlProtocolCapability", "GlueSLService", "GlueSLLocalFileSystemClient",
    "GlueSACapability", "GlueSAAccessControlBaseRule", "GlueVOInfoAccessControlBaseRule",
    # GLUE20.schema
    "GLUE2EntityOtherInfo", "GLUE2ExtensionEntityForeignKey", "GLUE2LocationServiceForeignKey",
    "GLUE2LocationDomainForeignKey", "GLUE2ContactServiceForeignKey",
    "GLUE2ContactDomainForeignKey", "GLUE2DomainWWW", "GLUE2AdminDomainOwner",
    "GLUE2AdminDomainAdminDomainForeignKey", "GLUE2UserDomainUserManager", "GLUE2UserDomainMember",
    "GLUE2UserDomainUserDomainForeignKey", "GLUE2ServiceCapability", "GLUE2ServiceStatusInfo",
    "GLUE2ServiceAdminDomainForeignKey", "GLUE2ServiceServiceForeignKey", "GLUE2EndpointCapability",
    "GLUE2EndpointInterfaceExtension", "GLUE2EndpointWSDL", "GLUE2EndpointSupportedProfile",
    "GLUE2EndpointSemantics", "GLUE2EndpointTrustedCA", "GLUE2ShareEndpointForeignKey",
    "GLUE2ShareResourceForeignKey", "GLUE2ActivityActivityForeignKey", "GLUE2PolicyRule",
    "GLUE2PolicyUserDomainForeignKey", "GLUE2AccessPolicyEndpointForeignKey",
    "GLUE2MappingPolicyShareForeignKey", "GLUE2ComputingEndpointJobDescription",
    "GLUE2ComputingShareTag", "GLUE2ComputingShareComputingEndpointForeignKey",
    "GLUE2ComputingShareExecutionEnvironmentForeignKey", "GLUE2ComputingManagerNetworkInfo",
    "GLUE2ExecutionEnvironmentNetworkInfo", "GLUE2ApplicationEnvironmentBestBenchmark",
    "GLUE2ApplicationEnvironmentExecutionEnvironmentForeignKey", "GLUE2ComputingActivityState",
    "GLUE2ComputingActivityRestartState", "GLUE2ComputingActivityError",
    "GLUE2ComputingActivityRequestedApplicationEnvironment", "GLUE2ComputingActivityExecutionNode",
    "GLUE2StorageShareAccessMode", "GLUE2StorageShareRetentionPolicy",
    "GLUE2StorageShareStorageEndpointForeignKey", "GLUE2StorageShareDataStoreForeignKey",
    "GLUE2StorageShareCapacityStorageShareForeignKey",
    "GLUE2ToComputingServiceStorageAccessProtocolForeignKey",
))


def is_single_valued(name: str) -> bool:
    """Whether the GLUE schema declares attribute ``name`` (any case) SINGLE-VALUE.

    True for every ``Glue*``/``GLUE2*`` (and ``Glue-MDS.schema``'s ``Mds-*``)
    attribute outside :data:`MULTI_VALUED`; False for multi-valued and
    non-GLUE attributes.
    """
    key = name.lower()
    return key.startswith(("glue", "mds-")) and key not in MULTI_VALUED
