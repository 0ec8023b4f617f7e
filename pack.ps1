<#
.SYNOPSIS
  Builds the Partner Center Co-sell solution and, optionally, deploys it (staging first, then production).

.DESCRIPTION
  The admin's entry point on Windows. It checks the prerequisites and runs the repository's npm
  scripts; all logic lives in those scripts (this file never duplicates it):
    npm ci                                   (only when node_modules is missing, or with -Install)
    npm run pack                             (builds the PCF control and the form script, writes and validates
                                              dist\PartnerCenterCoSell.zip and dist\PartnerCenterCoSell_managed.zip)
    npm run deploy -w solution -- --env <e>  (with -Deploy staging|production)
  When the Power Platform CLI (pac) is installed it offers `pac solution check` on the managed zip.

.PARAMETER Deploy
  staging or production. Production is refused unless the same zip passed staging.

.PARAMETER Settings
  Deployment settings file (default solution\settings\<env>.json).

.PARAMETER Install
  Run `npm ci` even when node_modules exists.

.PARAMETER SkipCheck
  Do not offer `pac solution check`.

.EXAMPLE
  .\pack.ps1
  .\pack.ps1 -Deploy staging
  .\pack.ps1 -Deploy production
#>
[CmdletBinding()]
param(
  [ValidateSet('staging', 'production')]
  [string] $Deploy,
  [string] $Settings,
  [switch] $Install,
  [switch] $SkipCheck
)

$ErrorActionPreference = 'Stop'
Set-Location -LiteralPath $PSScriptRoot

function Fail([string] $Message) {
  Write-Host "ERROR: $Message" -ForegroundColor Red
  exit 1
}

function Invoke-Npm([string[]] $Arguments) {
  Write-Host "> npm $($Arguments -join ' ')" -ForegroundColor Cyan
  & npm @Arguments
  if ($LASTEXITCODE -ne 0) { Fail "npm $($Arguments -join ' ') failed (exit code $LASTEXITCODE)" }
}

# --- prerequisites -------------------------------------------------------------------------------
$node = Get-Command node -ErrorAction SilentlyContinue
if (-not $node) { Fail 'Node.js is not installed. Install Node.js 20 LTS (https://nodejs.org) and open a new terminal.' }
$nodeVersion = (& node --version).TrimStart('v')
if ([version]$nodeVersion -lt [version]'20.18.0') { Fail "Node.js $nodeVersion is too old: version 20.18 or later is needed." }
if (-not (Get-Command npm -ErrorAction SilentlyContinue)) { Fail 'npm is not on the PATH (it comes with Node.js).' }
Write-Host "Node.js $nodeVersion, npm $(& npm --version)"

if ($Deploy) {
  $settingsFile = if ($Settings) { $Settings } else { Join-Path $PSScriptRoot "solution\settings\$Deploy.json" }
  if (-not (Test-Path -LiteralPath $settingsFile)) {
    Fail "$settingsFile not found: copy solution\settings\$Deploy.example.json to it and fill it in (docs\install.md)."
  }
}

# --- build ---------------------------------------------------------------------------------------
if ($Install -or -not (Test-Path -LiteralPath (Join-Path $PSScriptRoot 'node_modules'))) {
  Invoke-Npm @('ci', '--no-audit', '--no-fund')
}
Invoke-Npm @('run', 'pack')

$managed = Join-Path $PSScriptRoot 'dist\PartnerCenterCoSell_managed.zip'
if (-not (Test-Path -LiteralPath $managed)) { Fail "$managed was not written." }
Write-Host "Built dist\PartnerCenterCoSell.zip and dist\PartnerCenterCoSell_managed.zip" -ForegroundColor Green

# --- optional: Microsoft's solution checker ------------------------------------------------------
if (-not $SkipCheck -and (Get-Command pac -ErrorAction SilentlyContinue)) {
  $answer = Read-Host 'The Power Platform CLI is installed. Run `pac solution check` on the managed zip now? [y/N]'
  if ($answer -match '^(y|yes)$') {
    & pac solution check --path $managed --outputDirectory (Join-Path $PSScriptRoot 'dist\solution-check')
    if ($LASTEXITCODE -ne 0) { Fail 'pac solution check reported a failure (see dist\solution-check).' }
  }
}

# --- optional: deploy ----------------------------------------------------------------------------
if ($Deploy) {
  $deployArgs = @('run', 'deploy', '-w', 'solution', '--', '--env', $Deploy)
  if ($Settings) { $deployArgs += @('--settings', (Resolve-Path -LiteralPath $Settings).Path) }
  Invoke-Npm $deployArgs
  Write-Host "Deployed to $Deploy." -ForegroundColor Green
}
