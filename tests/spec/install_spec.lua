-- cmake --install: headers, libgmmkit with its pkg-config file, the Lua modules in the
-- standard Lua 5.4 layout, and the host; then a C program and a stock lua5.4 use them.
local gk = require "gmmkit"
local h = require "spec_helper"

describe("cmake --install", function()
  local prefix = h.tmpdir()
  local sanitized = os.getenv("GMMKIT_SANITIZED") ~= nil or os.getenv("GK_ASAN_PRELOAD") ~= nil

  it("installs a tree that a C program and a stock lua5.4 can use", function()
    local out, ok = h.run(string.format("cmake --install '%s' --prefix '%s'", h.build_dir, prefix))
    assert.is_truthy(ok, out)
    for _, f in ipairs({"/include/gmmkit/gmmkit.h", "/lib/libgmmkit.a", "/lib/pkgconfig/gmmkit.pc",
      "/lib/lua/5.4/gmmkit/core.so", "/share/lua/5.4/gmmkit/init.lua", "/bin/gmmkit"}) do
      assert.is_truthy(io.open(prefix .. f), "missing " .. f)
    end

    -- A model written by the Lua API, read back by a C program built with pkg-config.
    local g = gk.gmm.new{weights = {0.25, 0.75}, means = {{0, 1}, {2, 3}}, covariances = {{1, 2}, {3, 4}}}
    g:save(prefix .. "/m.gmm")
    local src = prefix .. "/prog.c"
    local f = assert(io.open(src, "w"))
    f:write([[
#include <stdio.h>
#include <gmmkit/gmmkit.h>
int main(int argc, char **argv) {
  gk_error err;
  gk_gmm *g;
  if (argc < 2 || gk_gmm_load(argv[1], &g, NULL, &err) != GK_OK) return 1;
  printf("%zu %zu %s %.17g\n", g->k, g->d, gk_cov_type_name(g->cov), g->weights[1]);
  gk_gmm_free(g);
  return 0;
}
]])
    f:close()
    -- No -Wl,-rpath and no LD_LIBRARY_PATH: the .pc carries the run path of a custom prefix.
    local pc = string.format("PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config", prefix)
    local san = sanitized and "-fsanitize=address,undefined" or ""
    out, ok = h.run(string.format("cc %s '%s' -o '%s/prog' $(%s --cflags --libs gmmkit)", san, src, prefix, pc))
    assert.is_truthy(ok, out)
    out, ok = h.run(string.format("env -u LD_LIBRARY_PATH ASAN_OPTIONS=detect_leaks=0 '%s/prog' '%s/m.gmm'", prefix, prefix))
    assert.is_truthy(ok, out)
    assert.are.equal("2 2 diag 0.75\n", out)

    -- `--static` lists what a link needs on Debian 12: it links, and with libgmmkit.a
    -- itself (-l:libgmmkit.a) the program needs no libgmmkit.so.
    out, ok = h.run(string.format("cc %s '%s' -o '%s/prog_s' $(%s --cflags --static --libs gmmkit)", san, src, prefix, pc))
    assert.is_truthy(ok, out)
    out, ok = h.run(string.format("cc %s '%s' -o '%s/prog_a' $(%s --cflags --static --libs gmmkit | sed 's/-lgmmkit/-l:libgmmkit.a/')",
      san, src, prefix, pc))
    assert.is_truthy(ok, out)
    out, ok = h.run(string.format("ldd '%s/prog_a'", prefix))
    assert.is_truthy(ok, out)
    assert.is_falsy(out:find("libgmmkit", 1, true), out)
    for _, p in ipairs({"prog_s", "prog_a"}) do
      out, ok = h.run(string.format("env -u LD_LIBRARY_PATH ASAN_OPTIONS=detect_leaks=0 '%s/%s' '%s/m.gmm'", prefix, p, prefix))
      assert.is_truthy(ok, out)
      assert.are.equal("2 2 diag 0.75\n", out)
    end

    -- A stock lua5.4 finds the installed modules through the standard layout.
    local env = string.format("LUA_PATH_5_4='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua;;' LUA_CPATH_5_4='%s/lib/lua/5.4/?.so;;' ",
      prefix, prefix, prefix)
    out, ok = h.run(env .. "lua5.4 -e 'local gk = require \"gmmkit\"; print(gk.gmm.load(\"" .. prefix .. "/m.gmm\").components)'")
    assert.is_truthy(ok, out)
    assert.are.equal("2\n", out)

    -- The installed host is self-contained.
    out, ok = h.run(string.format("'%s/bin/gmmkit' -e 'print(gk.version)'", prefix))
    assert.is_truthy(ok, out)
    assert.are.equal(gk.version .. "\n", out)
    os.execute("rm -rf '" .. prefix .. "'")
  end)
end)
