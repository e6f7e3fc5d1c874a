#include <criterion/criterion.h>

Test(boot_loader, placeholder)
{
}
