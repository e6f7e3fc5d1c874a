#include <criterion/criterion.h>
#include <errno.h>

#include "kernel/kconfig.h"

static const char fragment[] = "# a comment\n"
			       "CONFIG_64BIT=y\n"
			       "\n"
			       "# CONFIG_PCI is not set\n"
			       "CONFIG_NR_CPUS=32\n"
			       "CONFIG_CMDLINE=\"console=ttyS0\"\n";

Test(kconfig, parses_assignments_and_unset_lines)
{
	struct kconfig_opt opts[8];
	int n = kconfig_parse(fragment, opts, 8, NULL);

	cr_assert_eq(n, 4);
	cr_assert_str_eq(opts[0].name, "CONFIG_64BIT");
	cr_assert_str_eq(opts[0].value, "y");
	cr_assert_str_eq(opts[1].name, "CONFIG_PCI");
	cr_assert_str_eq(opts[1].value, "n");
	cr_assert_str_eq(opts[2].value, "32");
	cr_assert_str_eq(opts[3].value, "\"console=ttyS0\"");
}

Test(kconfig, rejects_malformed_lines_with_their_number)
{
	struct kconfig_opt opts[8];
	int line = 0;

	cr_assert_eq(kconfig_parse("CONFIG_A=y\nCONFIG_B\n", opts, 8, &line), -EINVAL);
	cr_assert_eq(line, 2);
	cr_assert_eq(kconfig_parse("config_lower=y\n", opts, 8, &line), -EINVAL);
	cr_assert_eq(kconfig_parse("CONFIG_A=\n", opts, 8, &line), -EINVAL);
	cr_assert_eq(kconfig_parse("CONFIG_A=y\nCONFIG_B=y\n", opts, 1, &line), -E2BIG);
}

Test(kconfig, lookup_treats_unset_and_absent_as_n)
{
	const char *config = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_AB=m\n";
	char v[32];

	kconfig_lookup(config, "CONFIG_A", v, sizeof(v));
	cr_assert_str_eq(v, "y");
	kconfig_lookup(config, "CONFIG_AB", v, sizeof(v));
	cr_assert_str_eq(v, "m");
	kconfig_lookup(config, "CONFIG_B", v, sizeof(v));
	cr_assert_str_eq(v, "n");
	kconfig_lookup(config, "CONFIG_C", v, sizeof(v));
	cr_assert_str_eq(v, "n");
}

Test(kconfig, verify_accepts_a_merged_config)
{
	const char *merged = "CONFIG_64BIT=y\nCONFIG_NR_CPUS=32\nCONFIG_CMDLINE=\"console=ttyS0\"\n"
			     "CONFIG_OTHER=y\n";
	char missing[256];

	cr_assert_eq(kconfig_verify(fragment, merged, missing, sizeof(missing)), 0);
	cr_assert_str_eq(missing, "");
}

Test(kconfig, verify_names_dropped_and_changed_options)
{
	const char *merged = "CONFIG_PCI=y\nCONFIG_NR_CPUS=8\nCONFIG_CMDLINE=\"console=ttyS0\"\n";
	char missing[256];

	cr_assert_eq(kconfig_verify(fragment, merged, missing, sizeof(missing)), 3);
	cr_assert(strstr(missing, "CONFIG_64BIT=y (got n)"), "%s", missing);
	cr_assert(strstr(missing, "CONFIG_PCI=n (got y)"), "%s", missing);
	cr_assert(strstr(missing, "CONFIG_NR_CPUS=32 (got 8)"), "%s", missing);
}

Test(kconfig, verify_rejects_a_malformed_fragment)
{
	char missing[64];

	cr_assert_eq(kconfig_verify("NOT A CONFIG LINE\n", "", missing, sizeof(missing)), -EINVAL);
}

Test(kconfig, verify_merged_lets_the_overlay_win)
{
	const char *merged = "CONFIG_64BIT=y\nCONFIG_NR_CPUS=4\nCONFIG_CMDLINE=\"console=ttyS0\"\n"
			     "CONFIG_HZ_50=y\n";
	const char *overlay = "CONFIG_NR_CPUS=4\nCONFIG_HZ_50=y\n";
	char missing[256];

	cr_assert_eq(kconfig_verify_merged(fragment, overlay, merged, missing, sizeof(missing)), 0,
		     "%s", missing);
	/* Without the overlay, NR_CPUS=4 is a changed option. */
	cr_assert_eq(kconfig_verify_merged(fragment, NULL, merged, missing, sizeof(missing)), 1);
	/* The overlay's own options are checked too. */
	cr_assert_eq(kconfig_verify_merged(fragment, "CONFIG_NR_CPUS=4\nCONFIG_HZ_25=y\n", merged,
					   missing, sizeof(missing)),
		     1);
	cr_assert(strstr(missing, "CONFIG_HZ_25=y (got n)"), "%s", missing);
	cr_assert_eq(
		kconfig_verify_merged(fragment, "BAD LINE\n", merged, missing, sizeof(missing)),
		-EINVAL);
}
