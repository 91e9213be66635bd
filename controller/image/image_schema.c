/*
 * image_schema: the JSON-schema documents under /v2/schemas/ (image.h).
 *
 * glanceclient downloads "image", "metadefs/namespace" and
 * "metadefs/resource_type" on its first run against a cloud and falls back
 * to the v1 API (which it no longer has) if all three fail; it then builds
 * its command-line options from the image schema and wraps every image it
 * receives in a model validated against it. So the image schema must
 * describe exactly what image_json_to_json() returns: additionalProperties of
 * type string (every extra property is a string), the dashed-UUID id
 * pattern, the status/visibility/format enums, and hash lengths that fit
 * SHA-512 (os_hash_algo 64, os_hash_value 128; glanceclient's bundled
 * fallback says 32 for both, which breaks image-update). The documents are
 * Glance's own, with the disk and container formats this service accepts.
 */
#include <stddef.h>
#include <string.h>

#include "image_int.h"

/* Glance's image schema (glance/api/v2/images.py get_schema() with
 * etc/schema-image.json), served as /v2/schemas/image and as the items
 * of /v2/schemas/images. */
#define IMAGE_SCHEMA \
    "{\"name\": \"image\", \"properties\": {\"id\": {\"type\":" \
    " \"string\", \"description\": \"An identifier for the image\"," \
    " \"pattern\": \"^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-" \
    "([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$\"}, \"name\": {\"type\":" \
    " [\"null\", \"string\"], \"description\": \"Descriptive name for" \
    " the image\", \"maxLength\": 255}, \"status\": {\"type\":" \
    " \"string\", \"readOnly\": true, \"description\": \"Status of the" \
    " image\", \"enum\": [\"queued\", \"saving\", \"active\"," \
    " \"killed\", \"deleted\", \"uploading\", \"importing\"," \
    " \"pending_delete\", \"deactivated\"]}, \"visibility\": {\"type\":" \
    " \"string\", \"description\": \"Scope of image accessibility\"," \
    " \"enum\": [\"community\", \"public\", \"private\", \"shared\"]}," \
    " \"protected\": {\"type\": \"boolean\", \"description\": \"If true," \
    " image will not be deletable.\"}, \"os_hidden\": {\"type\":" \
    " \"boolean\", \"description\": \"If true, image will not appear in" \
    " default image list response.\"}, \"checksum\": {\"type\":" \
    " [\"null\", \"string\"], \"readOnly\": true, \"description\": \"md5" \
    " hash of image contents.\", \"maxLength\": 32}, \"os_hash_algo\":" \
    " {\"type\": [\"null\", \"string\"], \"readOnly\": true," \
    " \"description\": \"Algorithm to calculate the os_hash_value\"," \
    " \"maxLength\": 64}, \"os_hash_value\": {\"type\": [\"null\"," \
    " \"string\"], \"readOnly\": true, \"description\": \"Hexdigest of" \
    " the image contents using the algorithm specified by the" \
    " os_hash_algo\", \"maxLength\": 128}, \"owner\": {\"type\":" \
    " [\"null\", \"string\"], \"description\": \"Owner of the image\"," \
    " \"maxLength\": 255}, \"size\": {\"type\": [\"null\", \"integer\"]," \
    " \"readOnly\": true, \"description\": \"Size of image file in" \
    " bytes\"}, \"virtual_size\": {\"type\": [\"null\", \"integer\"]," \
    " \"readOnly\": true, \"description\": \"Virtual size of image in" \
    " bytes\"}, \"container_format\": {\"type\": [\"null\", \"string\"]," \
    " \"description\": \"Format of the container\", \"enum\": [null," \
    " \"ami\", \"ari\", \"aki\", \"bare\", \"ovf\", \"ova\", \"docker\"," \
    " \"compressed\"]}, \"disk_format\": {\"type\": [\"null\"," \
    " \"string\"], \"description\": \"Format of the disk\", \"enum\":" \
    " [null, \"ami\", \"ari\", \"aki\", \"vhd\", \"vhdx\", \"vmdk\"," \
    " \"raw\", \"qcow2\", \"vdi\", \"iso\", \"ploop\"]}, \"created_at\":" \
    " {\"type\": \"string\", \"readOnly\": true, \"description\": \"Date" \
    " and time of image registration\"}, \"updated_at\": {\"type\":" \
    " \"string\", \"readOnly\": true, \"description\": \"Date and time" \
    " of the last image modification\"}, \"tags\": {\"type\": \"array\"," \
    " \"description\": \"List of strings related to the image\"," \
    " \"items\": {\"type\": \"string\", \"maxLength\": 255}}," \
    " \"direct_url\": {\"type\": \"string\", \"readOnly\": true," \
    " \"description\": \"URL to access the image file kept in external" \
    " store\"}, \"min_ram\": {\"type\": \"integer\", \"description\":" \
    " \"Amount of ram (in MB) required to boot image.\"}, \"min_disk\":" \
    " {\"type\": \"integer\", \"description\": \"Amount of disk space" \
    " (in GB) required to boot image.\"}, \"self\": {\"type\":" \
    " \"string\", \"readOnly\": true, \"description\": \"An image self" \
    " url\"}, \"file\": {\"type\": \"string\", \"readOnly\": true," \
    " \"description\": \"An image file url\"}, \"stores\": {\"type\":" \
    " \"string\", \"readOnly\": true, \"description\": \"Store in which" \
    " image data resides.  Only present when the operator has enabled" \
    " multiple stores.  May be a comma-separated list of store" \
    " identifiers.\"}, \"schema\": {\"type\": \"string\", \"readOnly\":" \
    " true, \"description\": \"An image schema url\"}, \"locations\":" \
    " {\"type\": \"array\", \"items\": {\"type\": \"object\"," \
    " \"properties\": {\"url\": {\"type\": \"string\", \"maxLength\":" \
    " 255}, \"metadata\": {\"type\": \"object\"}}, \"required\":" \
    " [\"url\", \"metadata\"]}, \"description\": \"A set of URLs to" \
    " access the image file kept in external store\"}, \"kernel_id\":" \
    " {\"type\": [\"null\", \"string\"], \"pattern\":" \
    " \"^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F])" \
    "{4}-([0-9a-fA-F]){12}$\", \"description\": \"ID of image stored in" \
    " Glance that should be used as the kernel when booting an AMI-style" \
    " image.\", \"is_base\": false}, \"ramdisk_id\": {\"type\":" \
    " [\"null\", \"string\"], \"pattern\":" \
    " \"^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F])" \
    "{4}-([0-9a-fA-F]){12}$\", \"description\": \"ID of image stored in" \
    " Glance that should be used as the ramdisk when booting an" \
    " AMI-style image.\", \"is_base\": false}, \"instance_uuid\":" \
    " {\"type\": \"string\", \"description\": \"Metadata which can be" \
    " used to record which instance this image is associated with." \
    " (Informational only, does not create an instance snapshot.)\"," \
    " \"is_base\": false}, \"architecture\": {\"description\":" \
    " \"Operating system architecture as specified in" \
    " https://docs.openstack.org/python-glanceclient/latest/cli/property-" \
    "keys.html\", \"type\": \"string\", \"is_base\": false}," \
    " \"os_distro\": {\"description\": \"Common name of operating system" \
    " distribution as specified in" \
    " https://docs.openstack.org/python-glanceclient/latest/cli/property-" \
    "keys.html\", \"type\": \"string\", \"is_base\": false}," \
    " \"os_version\": {\"description\": \"Operating system version as" \
    " specified by the distributor.\", \"type\": \"string\"," \
    " \"is_base\": false}, \"description\": {\"description\": \"A" \
    " human-readable string describing this image.\", \"type\":" \
    " \"string\", \"is_base\": false}, \"cinder_encryption_key_id\":" \
    " {\"description\": \"Identifier in the OpenStack Key Management" \
    " Service for the encryption key for the Block Storage Service to" \
    " use when mounting a volume created from this image\", \"type\":" \
    " \"string\", \"is_base\": false}," \
    " \"cinder_encryption_key_deletion_policy\": {\"description\":" \
    " \"States the condition under which the Image Service will delete" \
    " the object associated with the 'cinder_encryption_key_id' image" \
    " property.  If this property is missing, the Image Service will" \
    " take no action\", \"type\": \"string\", \"enum\":" \
    " [\"on_image_deletion\", \"do_not_delete\"], \"is_base\": false}}," \
    " \"additionalProperties\": {\"type\": \"string\"}, \"links\":" \
    " [{\"rel\": \"self\", \"href\": \"{self}\"}, {\"rel\":" \
    " \"enclosure\", \"href\": \"{file}\"}, {\"rel\": \"describedby\"," \
    " \"href\": \"{schema}\"}]}"

#define MEMBER_SCHEMA \
    "{\"name\": \"member\", \"properties\": {\"member_id\": {\"type\":" \
    " \"string\", \"description\": \"An identifier for the image member" \
    " (tenantId)\"}, \"image_id\": {\"type\": \"string\"," \
    " \"description\": \"An identifier for the image\", \"pattern\":" \
    " \"^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F])" \
    "{4}-([0-9a-fA-F]){12}$\"}, \"created_at\": {\"type\": \"string\"," \
    " \"description\": \"Date and time of image member creation\"}," \
    " \"updated_at\": {\"type\": \"string\", \"description\": \"Date and" \
    " time of last modification of image member\"}, \"status\":" \
    " {\"type\": \"string\", \"description\": \"The status of this image" \
    " member\", \"enum\": [\"pending\", \"accepted\", \"rejected\"]}," \
    " \"schema\": {\"readOnly\": true, \"type\": \"string\"}}," \
    " \"additionalProperties\": false}"

static const char schema_image[] = IMAGE_SCHEMA;

static const char schema_images[] =
    "{\"name\": \"images\", \"properties\": {\"images\": {\"type\":"
    " \"array\", \"items\": "
    IMAGE_SCHEMA
    "}, \"first\": {\"type\": \"string\"}, \"next\": {\"type\":"
    " \"string\"}, \"schema\": {\"type\": \"string\"}}, \"links\":"
    " [{\"rel\": \"first\", \"href\": \"{first}\"}, {\"rel\": \"next\","
    " \"href\": \"{next}\"}, {\"rel\": \"describedby\", \"href\":"
    " \"{schema}\"}]}";

static const char schema_member[] = MEMBER_SCHEMA;

static const char schema_members[] =
    "{\"name\": \"members\", \"properties\": {\"members\": {\"type\":"
    " \"array\", \"items\": "
    MEMBER_SCHEMA
    "}, \"schema\": {\"type\": \"string\"}}, \"links\": [{\"rel\":"
    " \"describedby\", \"href\": \"{schema}\"}]}";

/* glanceclient's bundled metadefs schemas (what Glance serves). */
static const char schema_namespace[] =
    "{\"additionalProperties\": false, \"definitions\":"
    " {\"positiveInteger\": {\"minimum\": 0, \"type\": \"integer\"},"
    " \"positiveIntegerDefault0\": {\"allOf\": [{\"$ref\":"
    " \"#/definitions/positiveInteger\"}, {\"default\": 0}]},"
    " \"stringArray\": {\"type\": \"array\", \"items\": {\"type\":"
    " \"string\"}, \"uniqueItems\": true}, \"property\": {\"type\":"
    " \"object\", \"additionalProperties\": {\"type\": \"object\","
    " \"required\": [\"title\", \"type\"], \"properties\": {\"name\":"
    " {\"type\": \"string\"}, \"title\": {\"type\": \"string\"},"
    " \"description\": {\"type\": \"string\"}, \"operators\": {\"type\":"
    " \"array\", \"items\": {\"type\": \"string\"}}, \"type\":"
    " {\"type\": \"string\", \"enum\": [\"array\", \"boolean\","
    " \"integer\", \"number\", \"object\", \"string\", null]},"
    " \"required\": {\"$ref\": \"#/definitions/stringArray\"},"
    " \"minimum\": {\"type\": \"number\"}, \"maximum\": {\"type\":"
    " \"number\"}, \"maxLength\": {\"$ref\":"
    " \"#/definitions/positiveInteger\"}, \"minLength\": {\"$ref\":"
    " \"#/definitions/positiveIntegerDefault0\"}, \"pattern\":"
    " {\"type\": \"string\", \"format\": \"regex\"}, \"enum\":"
    " {\"type\": \"array\"}, \"readonly\": {\"type\": \"boolean\"},"
    " \"default\": {}, \"items\": {\"type\": \"object\", \"properties\":"
    " {\"type\": {\"type\": \"string\", \"enum\": [\"array\","
    " \"boolean\", \"integer\", \"number\", \"object\", \"string\","
    " null]}, \"enum\": {\"type\": \"array\"}}}, \"maxItems\":"
    " {\"$ref\": \"#/definitions/positiveInteger\"}, \"minItems\":"
    " {\"$ref\": \"#/definitions/positiveIntegerDefault0\"},"
    " \"uniqueItems\": {\"type\": \"boolean\", \"default\": false},"
    " \"additionalItems\": {\"type\": \"boolean\"}}}}}, \"required\":"
    " [\"namespace\"], \"name\": \"namespace\", \"properties\":"
    " {\"namespace\": {\"type\": \"string\", \"description\": \"The"
    " unique namespace text.\", \"maxLength\": 80}, \"display_name\":"
    " {\"type\": \"string\", \"description\": \"The user friendly name"
    " for the namespace. Used by UI if available.\", \"maxLength\": 80},"
    " \"description\": {\"type\": \"string\", \"description\":"
    " \"Provides a user friendly description of the namespace.\","
    " \"maxLength\": 500}, \"visibility\": {\"enum\": [\"public\","
    " \"private\"], \"type\": \"string\", \"description\": \"Scope of"
    " namespace accessibility.\"}, \"protected\": {\"type\":"
    " \"boolean\", \"description\": \"If true, namespace will not be"
    " deletable.\"}, \"owner\": {\"type\": \"string\", \"description\":"
    " \"Owner of the namespace.\", \"maxLength\": 255}, \"created_at\":"
    " {\"type\": \"string\", \"readOnly\": true, \"description\": \"Date"
    " and time of namespace creation.\", \"format\": \"date-time\"},"
    " \"updated_at\": {\"type\": \"string\", \"readOnly\": true,"
    " \"description\": \"Date and time of the last namespace"
    " modification.\", \"format\": \"date-time\"}, \"schema\":"
    " {\"readOnly\": true, \"type\": \"string\"}, \"self\":"
    " {\"readOnly\": true, \"type\": \"string\"},"
    " \"resource_type_associations\": {\"type\": \"array\", \"items\":"
    " {\"type\": \"object\", \"properties\": {\"name\": {\"type\":"
    " \"string\"}, \"prefix\": {\"type\": \"string\"},"
    " \"properties_target\": {\"type\": \"string\"}}}}, \"properties\":"
    " {\"$ref\": \"#/definitions/property\"}, \"objects\": {\"items\":"
    " {\"type\": \"object\", \"properties\": {\"required\": {\"$ref\":"
    " \"#/definitions/stringArray\"}, \"description\": {\"type\":"
    " \"string\"}, \"name\": {\"type\": \"string\"}, \"properties\":"
    " {\"$ref\": \"#/definitions/property\"}}}, \"type\": \"array\"},"
    " \"tags\": {\"items\": {\"type\": \"object\", \"properties\":"
    " {\"name\": {\"type\": \"string\"}}}, \"type\": \"array\"}}}";

static const char schema_resource_type[] =
    "{\"additionalProperties\": false, \"required\": [\"name\"],"
    " \"name\": \"resource_type_association\", \"properties\":"
    " {\"name\": {\"type\": \"string\", \"description\": \"Resource type"
    " names should be aligned with Heat resource types whenever"
    " possible: https://docs.openstack.org/heat/latest/template_guide/ope"
    "nstack.html\", \"maxLength\": 80}, \"prefix\": {\"type\":"
    " \"string\", \"description\": \"Specifies the prefix to use for the"
    " given resource type. Any properties in the namespace should be"
    " prefixed with this prefix when being applied to the specified"
    " resource type. Must include prefix separator (e.g. a colon :).\","
    " \"maxLength\": 80}, \"properties_target\": {\"type\": \"string\","
    " \"description\": \"Some resource types allow more than one key /"
    " value pair per instance.  For example, Cinder allows user and"
    " image metadata on volumes. Only the image properties metadata is"
    " evaluated by Nova (scheduling or drivers). This property allows a"
    " namespace target to remove the ambiguity.\", \"maxLength\": 80},"
    " \"created_at\": {\"type\": \"string\", \"readOnly\": true,"
    " \"description\": \"Date and time of resource type association.\","
    " \"format\": \"date-time\"}, \"updated_at\": {\"type\": \"string\","
    " \"readOnly\": true, \"description\": \"Date and time of the last"
    " resource type association modification.\", \"format\":"
    " \"date-time\"}}}";

static const struct {
	const char	*name;
	const char	*text;
} schemas[] = {
	{ "image", schema_image },
	{ "images", schema_images },
	{ "member", schema_member },
	{ "members", schema_members },
	{ "metadefs/namespace", schema_namespace },
	{ "metadefs/resource_type", schema_resource_type },
};

const char *
image_schema_text(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++)
		if (strcmp(schemas[i].name, name) == 0)
			return schemas[i].text;
	return NULL;
}
