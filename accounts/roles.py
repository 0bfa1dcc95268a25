"""Staff roles. Each is a Django group created by a data migration with the model permissions its job needs;
the table of who may do what is in the README ("Roles and permissions")."""

ADMIN = "admin"
SUPPORT = "support"
FINANCE = "finance"
CATALOG_MANAGER = "catalog_manager"
MERCHANT_STAFF = "merchant_staff"

ALL_ROLES = (ADMIN, SUPPORT, FINANCE, CATALOG_MANAGER, MERCHANT_STAFF)
