/* print_schema.c - prints the output tables (schema version TD_SCHEMA_VERSION) as markdown,
 * for the README:  td_print_schema > schema.md */
#include <stdio.h>

#include "table.h"

int main(void) {
    static const struct {
        td_table_id id;
        const char *title;
    } tables[] = {{TD_TABLE_HEADERS, "headers"}, {TD_TABLE_ERRORS, "errors"}};
    printf("Output schema version %d (file key-value metadata `%s`).\n", TD_SCHEMA_VERSION,
           TD_SCHEMA_VERSION_KEY);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        const td_column_doc *d;
        size_t n = td_table_columns(tables[t].id, &d);
        printf("\n### `%s` table\n\n| column | type | description |\n|---|---|---|\n",
               tables[t].title);
        for (size_t i = 0; i < n; i++)
            printf("| `%s` | %s | %s |\n", d[i].name, d[i].type, d[i].doc);
    }
    return 0;
}
