/* Prints the plugins liblcmaps reads from an LCMAPS database, one per line:
 * "PLUGIN<TAB>module<TAB>args". Uses the library's own policy reader (the
 * evaluation manager that lcmaps_init runs), not a copy of it. Exit 2 when the
 * library refuses the file. Built and run by tests/test_glexec_lcmaps_library.py.
 */
#include <stdio.h>
#include <lcmaps/lcmaps_db_read.h>

/* Exported by liblcmaps.so.0 but not declared in its installed headers. */
extern int lcmaps_startEvaluationManager(const char *name, int npolicies, char **policies);
extern int lcmaps_getPluginNameAndArgs(lcmaps_db_entry_t **list);

int main(int argc, char **argv)
{
    lcmaps_db_entry_t *list = NULL, *entry;

    if (argc != 2) {
        fprintf(stderr, "usage: %s LCMAPS-DB\n", argv[0]);
        return 64;
    }
    if (lcmaps_startEvaluationManager(argv[1], 0, NULL) != 0) {
        printf("REFUSED\n");
        return 2;
    }
    if (lcmaps_getPluginNameAndArgs(&list) != 0) {
        printf("REFUSED\n");
        return 2;
    }
    for (entry = list; entry != NULL; entry = entry->next)
        printf("PLUGIN\t%s\t%s\n", entry->pluginname, entry->pluginargs);
    return 0;
}
