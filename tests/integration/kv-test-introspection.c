/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-test-introspection.h"

#include "kv-config.h"
#include "kv-test-assert.h"
#include "kv-test-bus.h"

/* The introspection data as one comparable GVariant: methods with their arguments,
 * properties and signals, each with annotations other than @ignored_annotation. */
static GVariant *describe_annotations(GDBusAnnotationInfo **annotations,
                                      const char *ignored_annotation)
{
  GVariantBuilder builder;

  g_variant_builder_init(&builder, G_VARIANT_TYPE("a{ss}"));
  for (gsize i = 0; annotations != NULL && annotations[i] != NULL; i++)
    if (g_strcmp0(annotations[i]->key, ignored_annotation) != 0)
      g_variant_builder_add(&builder, "{ss}", annotations[i]->key, annotations[i]->value);
  return g_variant_builder_end(&builder);
}

static GVariant *describe_args(GDBusArgInfo **args)
{
  GVariantBuilder builder;

  g_variant_builder_init(&builder, G_VARIANT_TYPE("a(ss)"));
  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    g_variant_builder_add(&builder, "(ss)", args[i]->name, args[i]->signature);
  return g_variant_builder_end(&builder);
}

static GVariant *describe_interface(GDBusInterfaceInfo *info, const char *ignored_annotation)
{
  GVariantBuilder methods, properties, signals;

  g_variant_builder_init(&methods, G_VARIANT_TYPE("a(sa(ss)a(ss)a{ss})"));
  for (gsize i = 0; info->methods != NULL && info->methods[i] != NULL; i++) {
    GDBusMethodInfo *m = info->methods[i];
    g_variant_builder_add(&methods, "(s@a(ss)@a(ss)@a{ss})", m->name, describe_args(m->in_args),
                          describe_args(m->out_args),
                          describe_annotations(m->annotations, ignored_annotation));
  }
  g_variant_builder_init(&properties, G_VARIANT_TYPE("a(ssua{ss})"));
  for (gsize i = 0; info->properties != NULL && info->properties[i] != NULL; i++) {
    GDBusPropertyInfo *p = info->properties[i];
    g_variant_builder_add(&properties, "(ssu@a{ss})", p->name, p->signature, p->flags,
                          describe_annotations(p->annotations, ignored_annotation));
  }
  g_variant_builder_init(&signals, G_VARIANT_TYPE("a(sa(ss))"));
  for (gsize i = 0; info->signals != NULL && info->signals[i] != NULL; i++)
    g_variant_builder_add(&signals, "(s@a(ss))", info->signals[i]->name,
                          describe_args(info->signals[i]->args));

  return g_variant_ref_sink(
      g_variant_new("(a(sa(ss)a(ss)a{ss})a(ssua{ss})a(sa(ss)))", &methods, &properties, &signals));
}

static GVariant *describe_xml(const char *xml, const char *ignored_annotation)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusNodeInfo) node = g_dbus_node_info_new_for_xml(xml, &error);

  g_assert_no_error(error);
  GDBusInterfaceInfo *info = g_dbus_node_info_lookup_interface(node, KV_INTERFACE);
  g_assert_nonnull(info);
  return describe_interface(info, ignored_annotation);
}

void kv_test_assert_introspection_matches(GDBusConnection *connection,
                                          const char *ignored_annotation)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contract_xml = NULL;

  g_file_get_contents(kv_test_getenv("KV_TEST_INTERFACE_XML"), &contract_xml, NULL, &error);
  g_assert_no_error(error);
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      connection, KV_BUS_NAME, KV_OBJECT_PATH, "org.freedesktop.DBus.Introspectable", "Introspect",
      NULL, G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error(error);
  const char *live_xml;
  g_variant_get(reply, "(&s)", &live_xml);

  g_autoptr(GVariant) expected = describe_xml(contract_xml, ignored_annotation);
  g_autoptr(GVariant) actual = describe_xml(live_xml, ignored_annotation);
  g_assert_cmpvariant(actual, expected);
}
