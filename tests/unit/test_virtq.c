#include <criterion/criterion.h>

Test(virtq, placeholder)
{
}
